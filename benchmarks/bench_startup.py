"""Start-up time of commands that only read the config (they never import TensorFlow).

Usage: ``python -m benchmarks.bench_startup [--repeats 5]``. Each command runs as a fresh
process (``python -m ...``); the best and median wall times are printed as JSON. That no
TensorFlow is imported is asserted by tests/cli/test_startup.py; this measures the speed.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COMMANDS = {
    "mnist print_config": ["-m", "experiments.mnist", "print_config"],
    "mnist_gan print_config": ["-m", "experiments.mnist_gan", "print_config"],
    "mnist with lr=-1 (config error)": ["-m", "experiments.mnist", "with", "lr=-1"],
    "reproml --help": ["-m", "reproml.cli.main", "--help"],
}


def time_command(args: list[str], repeats: int) -> dict:
    """Run ``python ARGS`` `repeats` times from a scratch directory; return its wall times."""
    runs = []
    with tempfile.TemporaryDirectory() as cwd:
        env = {**os.environ, "PYTHONPATH": str(ROOT), "REPROML_RUNS_DIR": str(Path(cwd, "runs"))}
        for _ in range(repeats):
            start = time.perf_counter()
            subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True)
            runs.append(time.perf_counter() - start)
    return {"seconds": min(runs), "median_seconds": statistics.median(runs), "runs": runs}


def main() -> None:
    """Time every command of `COMMANDS` and print the results as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    results = {name: time_command(argv, args.repeats) for name, argv in COMMANDS.items()}
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
