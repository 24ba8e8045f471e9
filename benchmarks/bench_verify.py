"""What the up-front shard check costs a default run: sha256 of every shard, before and at the end.

Usage: ``python -m benchmarks.bench_verify [--data-path mnist.npz] [-- extra config]``. Runs
``python -m experiments.mnist`` (the run ``make demo`` makes) in a scratch directory, twice:
first to serialize the records (not timed: a later run reuses them), then the timed run. The
check's seconds come from the run's own record (``info["records_read"]``: ``seconds`` before
training, ``seconds_at_end`` when the main function ended); the run's wall time is the
process's. Prints one JSON row. Without ``--data-path`` the run uses scikit-learn's digits
(``dataset.allow_download=False``: what ``make demo`` trains on without a network).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def measure(config: list[str]) -> dict:
    """Serialize, then time one default run with `config`; return the check's share of it."""
    with tempfile.TemporaryDirectory() as cwd:
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "REPROML_RUNS_DIR": str(Path(cwd, "runs")),
            "REPROML_DATA_DIR": str(Path(cwd, "cache")),
            "TF_CPP_MIN_LOG_LEVEL": "3",
        }
        command = [sys.executable, "-m", "experiments.mnist"]
        subprocess.run([*command, "serialize", "with", *config], cwd=cwd, env=env, check=True)
        start = time.perf_counter()
        subprocess.run([*command, "with", *config], cwd=cwd, env=env, check=True)
        wall = time.perf_counter() - start
        info = json.loads(Path(cwd, "runs", "2", "info.json").read_text())
    (read,) = info["records_read"]
    check = read["seconds"] + read["seconds_at_end"]
    return {
        "config": config,
        "dataset": info["dataset"]["name"],
        "shards": read["shards"],
        "bytes": read["bytes"],
        "wall_seconds": round(wall, 2),
        "sha256_before_seconds": read["seconds"],
        "sha256_at_end_seconds": read["seconds_at_end"],
        "share": round(check / wall, 8),
    }


def main(argv: list[str] | None = None) -> None:
    """Parse the arguments, measure, print the JSON row."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data-path", help="an MNIST npz (default: the digits fallback)")
    parser.add_argument("config", nargs="*", help="more config updates (NAME=VALUE)")
    args = parser.parse_args(argv)
    config = ["dataset.allow_download=False", *args.config]
    if args.data_path:
        config = [f"dataset.data_path={Path(args.data_path).resolve()}", *args.config]
    print(json.dumps(measure(config), indent=1))


if __name__ == "__main__":
    main()
