"""Where input_fn's read time goes: each stage of the unshuffled pipeline, cumulatively.

Not a comparison (no baseline, no target): it shows how close `input_fn` is to the speed of
TensorFlow's own record reader on the same shards, which bounds any pipeline built on it.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import tensorflow as tf

from benchmarks.bench_io import BATCH, ours_write
from reproml.records import reader as inputs
from reproml.records.manifest import load_manifest
from reproml.records.verify import verify_shards


def stages(record_dir: Path) -> dict[str, Callable[[], tf.data.Dataset]]:
    """Returns each stage's dataset builder, from TF's bare reader to the full input_fn."""
    manifest = load_manifest(record_dir)
    paths = verify_shards(manifest, record_dir, "train", "size")
    compression = manifest.compression or ""

    def chunks() -> tf.data.Dataset:
        return inputs._serialized_records(
            manifest,
            paths,
            "train",
            deterministic=True,
            num_parallel_reads=tf.data.AUTOTUNE,
            as_chunks=True,
        )

    return {
        "TF's multi-file reader: TFRecordDataset(8 shards, record-by-record interleave).batch": lambda: (
            tf.data.TFRecordDataset(
                [str(p) for p in paths], compression_type=compression, num_parallel_reads=8
            ).batch(BATCH)
        ),
        "reproml reader: one TFRecordDataset per shard, counted, interleaved in 128-record chunks": chunks,
        "+ rebatch to the batch size": lambda: chunks().rebatch(BATCH),
        "full input_fn (+ parse_example, decode, prefetch)": inputs.input_fn(
            "train", BATCH, str(record_dir), n_epochs=1, shuffle=False
        ),
    }


def run(x: np.ndarray, y: np.ndarray, repeats: int) -> dict[str, dict[str, float]]:
    """Returns examples/s of every stage (best of `repeats`), uncompressed and GZIP."""
    out: dict[str, dict[str, float]] = {}
    for compression in (None, "GZIP"):
        root = Path(tempfile.mkdtemp(prefix="reproml-bench-stages-"))
        try:
            ours_write(x, y, root, compression)
            for name, build in stages(root).items():
                times = []
                for _ in range(repeats + 1):  # the first pass warms up (tracing), not counted
                    start = time.perf_counter()
                    for _element in build():
                        pass
                    times.append(time.perf_counter() - start)
                out.setdefault(name, {})[compression or "none"] = len(x) / min(times[1:])
        finally:
            shutil.rmtree(root, ignore_errors=True)
    return out
