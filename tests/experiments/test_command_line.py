"""Config values that cannot work, refused from the command line before anything runs.

Each case runs ``python -m experiments.mnist ...`` in a subprocess, as a user does, and checks
what the user sees: exit code != 0, one line on stderr naming the entry, no traceback, and no
run recorded. TensorFlow's own C++ start-up lines are silenced (TF_CPP_MIN_LOG_LEVEL=3): they
are printed at import, before any of our code runs.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def _mnist(args, tmp_path, cwd=None):
    env = {**os.environ, "REPROML_RUNS_DIR": str(tmp_path / "runs"), "TF_CPP_MIN_LOG_LEVEL": "3"}
    env["PYTHONPATH"] = str(REPO)
    return subprocess.run(
        [sys.executable, "-m", "experiments.mnist", *args],
        cwd=cwd or tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def _assert_refused(proc, tmp_path, *words):
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode != 0
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    for word in words:
        assert word in lines[0]
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["lr=1e999"], ["'lr'", "a finite number > 0", "inf"]),
        (["seed=-1"], ["'seed'", "-1"]),
        (["seed=1.5"], ["'seed'", "1.5"]),
        (['dataset.data_dir=""'], ["'dataset.data_dir'", "non-empty"]),
        (["dataset.samples_per_record=0"], ["'dataset.samples_per_record'"]),
    ],
)
def test_bad_value_refused_in_one_line(tmp_path, args, words):
    proc = _mnist(["with", "quick", *args], tmp_path)
    _assert_refused(proc, tmp_path, *words)
    assert not list(tmp_path.glob("*.tfrecord")) and not (tmp_path / "manifest.json").exists()


@pytest.mark.parametrize(("entry", "words"), [("lr", ["'lr'", "nan"]), ("dropout", ["'dropout'"])])
def test_nan_refused_in_one_line(tmp_path, entry, words):
    config = tmp_path / "nan.json"
    config.write_text(json.dumps({entry: float("nan")}))  # JSON's NaN
    proc = _mnist(["with", "quick", str(config)], tmp_path)
    _assert_refused(proc, tmp_path, *words)


def test_evaluate_without_a_trained_model_refused_in_one_line(tmp_path):
    proc = _mnist(["evaluate", "with", "quick", f"model_dir={tmp_path / 'empty'}"], tmp_path)
    _assert_refused(proc, tmp_path, "'model_dir'")


def test_records_of_another_config_refused_in_one_line(mnist_records, tmp_path):
    data_dir, _ = mnist_records
    args = ["serialize", "with", "quick", f"dataset.data_dir={data_dir}", "dataset.max_examples=9"]
    proc = _mnist(args, tmp_path)
    _assert_refused(
        proc, tmp_path, "dataset.max_examples=256 there, 9 in this run", "overwrite_records=True"
    )
