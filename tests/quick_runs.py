"""Quick runs of experiments/mnist.py (digits fallback) in a subprocess: `run_cli`, and the `quick_data_dir` fixture (registered by tests/conftest.py)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]  # the checkout holding tests/


def run_cli(*argv, cwd, env=None, check=True):
    """Run ``reproml ARGV`` in a subprocess (no TensorFlow in the test process); return it."""
    result = subprocess.run(
        [sys.executable, "-m", "reproml.cli.main", *map(str, argv)],
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
        capture_output=True,
        text=True,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"reproml {argv} exited {result.returncode}:\n{result.stderr}")
    return result


@pytest.fixture(scope="session")
def quick_data_dir(tmp_path_factory):
    """A record directory of its own for the quick runs of this folder."""
    return tmp_path_factory.mktemp("daily-records") / "records"
