"""Benchmark 8: the default classifier (Estimator) against a plain Keras `fit` of the same network.

Each training runs in a fresh subprocess (`benchmarks.keras_job`; op determinism is a
process-wide switch, and TensorFlow fixes its CPU kernels once per process), the sides
alternating A B A B ..., on the same 10,000 records, 300 steps of batch 100 each. The
"estimator" side is the default classifier: it declares the recipe's default kernels
(oneDNN's, `reproml.models.cpu_kernels.DEFAULT_CPU_KERNELS`); "estimator_eigen" declares
Eigen's, reported beside it; Keras runs TensorFlow's default kernels on this AVX2 CPU (Eigen's).
``TF_ENABLE_ONEDNN_OPTS`` is set per side (`keras_job` loads TensorFlow at its top, and
TensorFlow fixes its kernels when it loads); each side checks and reports the kernels that ran. The ratio
compares the steady-state rate (steps 100..300: start-up and graph building differ between the
two APIs); both the best and the median repeat are reported, since the machine is shared.
Every side must end at the same global step, and the Estimator's repeats must end at the same
loss to the last bit (op determinism: a faster setting that broke it would not count).

The attainable FP32 rate comes from `benchmarks.fp32_peak` (a tight 1024x1024 matmul loop),
run before and after the trainings; its best is the reference.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.bench_io import ours_write
from benchmarks.data import mnist_like
from reproml.models.cpu_kernels import DEFAULT_CPU_KERNELS

ROOT = Path(__file__).resolve().parent.parent
STEPS = 300
# side name -> (keras_job side, variant, TF_ENABLE_ONEDNN_OPTS)
SIDES = {
    "keras_fit": ("keras", "", "0"),
    "estimator": ("estimator", "", "1" if DEFAULT_CPU_KERNELS == "onednn" else "0"),
    "estimator_eigen": ("estimator", "eigen", "0"),  # cpu_kernels="eigen", a report
}


def _python(module: str, *args: str, onednn: str | None = None) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "TF_ENABLE_ONEDNN_OPTS"}
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    if onednn is not None:
        env["TF_ENABLE_ONEDNN_OPTS"] = onednn
    out = subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
        env=env,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def _job(name: str, record_dir: str) -> dict:
    side, variant, onednn = SIDES[name]
    return _python("benchmarks.keras_job", side, record_dir, str(STEPS), variant, onednn=onednn)


def run(repeats: int, sides: tuple[str, ...] = tuple(SIDES)) -> dict:
    """Returns every repeat of every side, the peak FP32 rate and the ratios."""
    peaks = [_python("benchmarks.fp32_peak")]
    x, y = mnist_like(10_000)
    runs: dict[str, list[dict]] = {name: [] for name in sides}
    with tempfile.TemporaryDirectory(prefix="reproml-bench-keras-") as tmp:
        record_dir = Path(tmp) / "records"
        record_dir.mkdir()
        ours_write(x, y, record_dir, None)
        for _ in range(repeats):
            for name in sides:
                runs[name].append(_job(name, str(record_dir)))
    peaks.append(_python("benchmarks.fp32_peak"))
    steps = {r["final_step"] for side in runs.values() for r in side}
    if steps != {STEPS}:
        raise AssertionError(f"the sides did not train the same steps: {steps}, expected {STEPS}")
    for name, side in runs.items():
        if SIDES[name][0] == "estimator" and len({r["loss"] for r in side}) != 1:
            raise AssertionError(f"{name}: repeats ended at different losses {side}")
    step_gflop = peaks[0]["step_gflop"]
    peak = max(p["matmul_gflops"] for p in peaks)
    summary = {}
    for name, side in runs.items():
        per_step = [r["steady_seconds"] / r["steady_steps"] for r in side]
        cpu_per_step = [r["steady_cpu_seconds"] / r["steady_steps"] for r in side]
        summary[name] = {
            "best_steps_per_s": 1 / min(per_step),
            "median_steps_per_s": 1 / statistics.median(per_step),
            "best_gflops": step_gflop / min(per_step),
            "share_of_peak": step_gflop / min(per_step) / peak,
            "median_cpu_s_per_step": statistics.median(cpu_per_step),
            "loss": [r["loss"] for r in side],
            "cpu_kernels": sorted({str(r.get("cpu_kernels")) for r in side}),
        }
    return {
        "steps": STEPS,
        "batch": 100,
        "peak": peaks,
        "peak_gflops": peak,
        "step_gflop": step_gflop,
        "sides": summary,
        "runs": runs,
    }
