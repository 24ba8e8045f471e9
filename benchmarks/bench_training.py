"""Benchmarks 3 and 4: Sacred tracking overhead and the cost of op determinism.

Each training runs in a fresh subprocess (op determinism is a process-wide switch that cannot be
turned off again, and a fresh process keeps TF's caches equal), the two sides alternating, on
the same records and the same number of steps. Both sides must end at the same global step.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.bench_io import ours_write
from benchmarks.data import mnist_like

ROOT = Path(__file__).resolve().parent.parent
STEPS = 1500


def _job(record_dir: str, mode: str, determinism: str, runs_dir: str) -> dict:
    out = (
        subprocess.run(
            [
                sys.executable,
                "-m",
                "benchmarks.train_job",
                record_dir,
                str(STEPS),
                mode,
                determinism,
                runs_dir,
            ],
            cwd=ROOT,
            check=True,
            capture_output=True,
            text=True,
        )
        .stdout.strip()
        .splitlines()[-1]
    )
    return json.loads(out)


def _compare(record_dir: str, runs_dir: str, with_: tuple, without: tuple, repeats: int) -> dict:
    times: dict[tuple, list[float]] = {with_: [], without: []}
    steps = set()
    for _ in range(repeats):
        for side in (without, with_):
            result = _job(record_dir, *side, runs_dir)
            times[side].append(result["seconds"])
            steps.add(result["final_step"])
    if steps != {STEPS}:
        raise AssertionError(
            f"the sides did not train the same steps: final steps {steps}, expected {STEPS}"
        )
    # Best of the repeats: a stall of about a second hits either side at random on this machine.
    with_s, without_s = min(times[with_]), min(times[without])
    return {
        "with_s": with_s,
        "without_s": without_s,
        "ratio": with_s / without_s,
        "median_ratio": statistics.median(times[with_]) / statistics.median(times[without]),
        "runs": {"with": times[with_], "without": times[without]},
        "steps": STEPS,
    }


def run_all(repeats: int) -> dict:
    """Returns the results of benchmarks 3 and 4."""
    x, y = mnist_like(10_000)
    with tempfile.TemporaryDirectory(prefix="reproml-bench-train-") as tmp:
        record_dir, runs_dir = str(Path(tmp) / "records"), str(Path(tmp) / "runs")
        Path(record_dir).mkdir()
        ours_write(x, y, Path(record_dir), None)
        tracking = _compare(record_dir, runs_dir, ("tracked", "on"), ("bare", "on"), repeats)
        tracking.update(target="<= 1.03", met="yes" if tracking["ratio"] <= 1.03 else "**no**")
        determinism = _compare(record_dir, runs_dir, ("bare", "on"), ("bare", "off"), repeats)
        determinism.update(target="report", met="-")
    return {"tracking": tracking, "determinism": determinism}
