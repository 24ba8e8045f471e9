"""Where input_fn's read time goes: each stage of the unshuffled pipeline, cumulatively.

Not a comparison (no baseline, no target): each stage adds one step of the whole-shard reader
(`reproml.records.reader._indexed_shard`) to the one before, so the first stage whose rate
falls short of the in-memory pipeline is the bound, and its rate is that op's measured
ceiling on this machine. TensorFlow's own record reader and the record-by-record reader (a
manifest without a record index) are timed on the same shards for reference.
"""

from __future__ import annotations

import hashlib
import shutil
import statistics
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


def _sha256_hex(data: bytes) -> bytes:
    return hashlib.sha256(data).hexdigest().encode("ascii")


def stages(record_dir: Path) -> dict[str, Callable[[], tf.data.Dataset]]:
    """Returns each stage's dataset builder, from TF's bare reader to the full input_fn."""
    manifest = load_manifest(record_dir)
    paths = verify_shards(manifest, record_dir, "train", "size")
    compression = manifest.compression or ""
    files = [str(p) for p in paths]
    hashes = [shard.sha256 for shard in manifest.splits["train"].shards]

    def whole_shards(check: bool, decompress: bool) -> Callable[[], tf.data.Dataset]:
        def one(path: tf.Tensor, expected: tf.Tensor) -> tf.data.Dataset:
            content = tf.io.read_file(path)
            if check:
                actual = tf.numpy_function(_sha256_hex, [content], tf.string, stateful=False)
                ok = tf.debugging.Assert(tf.equal(actual, expected), [path])
                with tf.control_dependencies([ok]):
                    content = tf.identity(content)
            if decompress and compression:
                content = tf.io.decode_compressed(content, compression_type=compression)
            return tf.data.Dataset.from_tensors(tf.strings.length(content))

        return lambda: tf.data.Dataset.from_tensor_slices((files, hashes)).interleave(
            one, cycle_length=8, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True
        )

    parse = inputs._parser(manifest.specs(["image", "label"]), batched=True)

    def to_model_inputs(serialized: tf.Tensor) -> tuple[dict, tf.Tensor]:
        decoded = parse(serialized)
        return {"image": decoded["image"]}, tf.cast(decoded["label"], tf.int64)

    def chunks(**kwargs: object) -> tf.data.Dataset:
        return inputs._serialized_records(
            manifest,
            paths,
            "train",
            deterministic=True,
            num_parallel_reads=tf.data.AUTOTUNE,
            as_chunks=True,
            **kwargs,
        )

    return {
        "TF's multi-file reader: TFRecordDataset(8 shards, record-by-record interleave).batch": lambda: (
            tf.data.TFRecordDataset(
                files, compression_type=compression, num_parallel_reads=8
            ).batch(BATCH)
        ),
        "record-by-record reader (manifest without index): counted 128-record chunks, rebatch": lambda: (
            chunks(use_index=False).rebatch(BATCH)
        ),
        "whole-shard reader: tf.io.read_file, 8 shards interleaved": whole_shards(False, False),
        "+ sha256 of the stored bytes (tf.numpy_function + hashlib)": whole_shards(True, False),
        "+ decompress whole (tf.io.decode_compressed; none: nothing)": whole_shards(True, True),
        "+ index check, cut into records (one tf.strings.substr), 128-record chunks": chunks,
        "+ parse_example + decode per shard, rebatch to the batch size": lambda: chunks(
            parse=to_model_inputs
        ).rebatch(BATCH),
        "full input_fn (+ prefetch)": inputs.input_fn(
            "train", BATCH, str(record_dir), n_epochs=1, shuffle=False
        ),
    }


def run(x: np.ndarray, y: np.ndarray, repeats: int) -> dict[str, dict[str, float]]:
    """Returns examples/s of every stage, uncompressed and GZIP: best and median of `repeats`.

    Also the CPU seconds of the process for the stage (``<compression>_cpu_s``, best repeat):
    on a machine shared with other jobs they vary less than wall time.

    The stages alternate within each repeat (stage 1, 2, ..., then again), like the sides of a
    comparison, so a stall on the shared machine does not hit one stage's repeats only.
    """
    out: dict[str, dict[str, float]] = {}
    for compression in (None, "GZIP"):
        name = compression or "none"
        root = Path(tempfile.mkdtemp(prefix="reproml-bench-stages-"))
        try:
            ours_write(x, y, root, compression)
            built = stages(root)
            times: dict[str, list[float]] = {stage: [] for stage in built}
            cpu: dict[str, list[float]] = {stage: [] for stage in built}
            for repeat in range(repeats + 1):  # the first pass warms up (tracing), not counted
                for stage, build in built.items():
                    start, start_cpu = time.perf_counter(), time.process_time()
                    for _element in build():
                        pass
                    if repeat:
                        times[stage].append(time.perf_counter() - start)
                        cpu[stage].append(time.process_time() - start_cpu)
            for stage, seconds in times.items():
                out.setdefault(stage, {})[name] = len(x) / min(seconds)
                out[stage][f"{name}_median"] = len(x) / statistics.median(seconds)
                out[stage][f"{name}_cpu_s"] = min(cpu[stage])
        finally:
            shutil.rmtree(root, ignore_errors=True)
    return out
