"""The default run's wall time in two checkouts, side by side: ``python -m experiments.mnist``.

    python -m benchmarks.default_run_wall --repeats 2 --mnist ../shared/data/mnist.npz OLD NEW

Each checkout runs with its own ``REPROML_DATA_DIR`` (holding a link to the MNIST file given)
and its own runs dir. One warm-up run per side serializes its records; then the sides alternate
(A B A B ...), and the whole process is timed (start-up, record check, training, evaluation,
export, plots). Used for docs/performance.md, "The redesign (issue 21)".
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def timed_run(checkout: Path, data_dir: Path, runs_dir: Path) -> tuple[float, object]:
    """Run the default experiment of `checkout`; return its wall seconds and recorded result."""
    shutil.rmtree(runs_dir, ignore_errors=True)
    env = dict(os.environ, PYTHONPATH=str(checkout), REPROML_DATA_DIR=str(data_dir))
    env.update(REPROML_RUNS_DIR=str(runs_dir), TF_CPP_MIN_LOG_LEVEL="3", PYTHONHASHSEED="0")
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "experiments.mnist"], cwd=checkout, env=env, capture_output=True
    )
    wall = time.perf_counter() - start
    if proc.returncode:
        raise SystemExit(f"{checkout}: exit {proc.returncode}\n{proc.stderr.decode()[-3000:]}")
    run = json.loads(next(runs_dir.rglob("run.json")).read_text())
    return wall, run.get("result")


def main(argv: list[str] | None = None) -> None:
    """Time the default run of each checkout, alternating; print best, median and the ratio."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--mnist", type=Path, required=True, help="an MNIST .npz (Keras layout)")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="reproml-default-run-"))
    sides = {"before": args.before.resolve(), "after": args.after.resolve()}
    walls: dict[str, list[float]] = {name: [] for name in sides}
    for name in sides:
        (work / f"data-{name}").mkdir()
        (work / f"data-{name}" / "mnist.npz").symlink_to(args.mnist.resolve())
    for name, checkout in sides.items():
        wall, result = timed_run(checkout, work / f"data-{name}", work / f"runs-{name}")
        print(f"warm-up {name}: {wall:.1f} s, result {result}", flush=True)
    for repeat in range(args.repeats):
        for name, checkout in sides.items():
            wall, result = timed_run(checkout, work / f"data-{name}", work / f"runs-{name}")
            walls[name].append(wall)
            print(f"repeat {repeat} {name}: {wall:.1f} s, result {result}", flush=True)
    for name, values in walls.items():
        print(f"{name}: best {min(values):.1f} s, median {statistics.median(values):.1f} s")
    best = min(walls["after"]) / min(walls["before"])
    median = statistics.median(walls["after"]) / statistics.median(walls["before"])
    print(f"after / before: best {best:.3f}, median {median:.3f}")


if __name__ == "__main__":
    main()
