"""Benchmark 6: Beam's DirectRunner vs `write_records`; a 2-worker training job vs one process.

Serialization: `WriteRecords` on the DirectRunner with 2 worker processes against `write_records`
(2 threads). Training: steps/s of a 2-worker all-reduce job (`reproml launch`) against one process.

Both sides of each pair run in the same `make bench` run, alternating; Beam and write_records
must produce the same fingerprint, the training jobs the same number of steps.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.data import mnist_like

ROOT = Path(__file__).resolve().parent.parent
PATTERN = "{split}-{idx:05d}.tfrecord"
SPR = 1000
N = 60_000
CHUNKS = 12
TRAIN_STEPS = 300
_DATA: dict[int, tuple[np.ndarray, np.ndarray]] = {}


def _handlers() -> dict:
    from handlers.image import ImageArrayHandler
    from handlers.label import ClassLabelHandler

    return {
        "image": ImageArrayHandler(shape=(28, 28, 1)),
        "label": ClassLabelHandler(num_classes=10),
    }


def _data(n: int) -> tuple[np.ndarray, np.ndarray]:
    """mnist_like(n), made once per process (Beam workers make their own copy)."""
    if n not in _DATA:
        _DATA[n] = mnist_like(n)
    return _DATA[n]


def chunk_rows(chunk: int, n: int, chunks: int):
    """Yield ``("train", index, row)`` for chunk `chunk` of `chunks` (runs on a Beam worker)."""
    x, y = _data(n)
    size = n // chunks
    for i in range(chunk * size, n if chunk == chunks - 1 else (chunk + 1) * size):
        yield "train", i, {"image": x[i], "label": int(y[i])}


def bench_beam(repeats: int, n: int = N) -> dict:
    """write_records (2 threads) vs WriteRecords on DirectRunner multi_processing, 2 workers."""
    import apache_beam as beam
    from apache_beam.options.pipeline_options import PipelineOptions

    from benchmarks.bench_io import alternate
    from reproml.records.beam_writer import WriteRecords
    from reproml.records.manifest import load_manifest
    from reproml.records.writer import write_records

    x, y = _data(n)
    root = Path(tempfile.mkdtemp(prefix="reproml-bench-beam-"))

    def local():
        out = root / "local"
        shutil.rmtree(out, ignore_errors=True)
        rows = ({"image": x[i], "label": int(y[i])} for i in range(n))
        manifest = write_records(
            out, PATTERN, _handlers(), SPR, {"train": n}, lambda s: rows,
            num_workers=2, splits=("train",), progress=False,
        )  # fmt: skip
        return n, (n, manifest.fingerprint)

    def on_beam():
        out = root / "beam"
        shutil.rmtree(out, ignore_errors=True)
        options = PipelineOptions(
            flags=[], runner="DirectRunner", direct_num_workers=2,
            direct_running_mode="multi_processing",
        )  # fmt: skip
        with beam.Pipeline(options=options) as p:
            _ = (
                p
                | beam.Create(list(range(CHUNKS)), reshuffle=True)
                | beam.FlatMap(chunk_rows, n, CHUNKS)
                | WriteRecords(out, PATTERN, _handlers(), SPR, splits=("train",))
            )
        return n, (n, load_manifest(out).fingerprint)

    cwd = os.getcwd()
    os.chdir(ROOT)  # Beam's workers import `benchmarks` from the working directory
    try:
        return alternate({"write_records": local, "beam_direct_2": on_beam}, repeats)
    finally:
        os.chdir(cwd)
        shutil.rmtree(root, ignore_errors=True)


def bench_training(repeats: int, steps: int = TRAIN_STEPS) -> dict:
    """One process vs a 2-worker MultiWorkerMirroredStrategy job, same steps, same per-worker batch."""
    from reproml.cluster.launcher import launch

    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": ""}
    results: dict[str, list[dict]] = {"one_process": [], "mwms_2_workers": []}
    for _ in range(repeats):
        for name, workers in (("one_process", 1), ("mwms_2_workers", 2)):
            with tempfile.TemporaryDirectory(prefix="reproml-bench-train-") as tmp:
                log = io.StringIO()
                command = [sys.executable, "-m", "benchmarks.cluster_job", tmp, str(steps)]
                wall = time.perf_counter()
                code = launch(command, workers, env=env, out=log, timeout=900)
                wall = time.perf_counter() - wall
                if code != 0:
                    raise RuntimeError(f"{name} failed ({code}):\n{log.getvalue()[-3000:]}")
                line = next(
                    ln for ln in log.getvalue().splitlines() if ln.startswith("[chief:0] {")
                )
                result = json.loads(line.split(" ", 1)[1])
                if result["steps"] != steps:
                    raise AssertionError(f"{name} trained {result['steps']} steps, not {steps}")
                results[name].append({**result, "wall_s": wall})
    return {name: max(runs, key=lambda r: r["steps_per_s"]) for name, runs in results.items()}


def run_all(repeats: int) -> dict:
    """Both pairs; repeats of the slow Beam/cluster sides are capped at 2."""
    return {"beam": bench_beam(min(repeats, 2)), "training": bench_training(min(repeats, 2))}
