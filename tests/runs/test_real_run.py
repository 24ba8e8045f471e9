"""A real quick MNIST run (digits fallback): its output, then export/import/rm of it."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import gridfs
import pytest

from reproml.tracking.output import filter_captured_output

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
# TensorFlow's C++ log lines ("2026-11-21 11:40:26.878647: I tensorflow/...") and the line that
# continues its CPU-feature message.
TF_CPP_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+: [IWEF] |^To enable the following")


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    """`python -m experiments.mnist with quick` as a user starts it (no TF_CPP_MIN_LOG_LEVEL)."""
    tmp = tmp_path_factory.mktemp("housekeeping-run")
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    result = subprocess.run(
        [sys.executable, "-m", "experiments.mnist", "with", "quick",
         f"dataset.data_dir={tmp / 'records'}"],
        cwd=ROOT,
        env={**env, "REPROML_RUNS_DIR": str(tmp / "runs")},
        capture_output=True,
        text=True,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return tmp / "runs", result


def test_summary_names_the_dataset_and_repeats_the_fallback_warning(quick_run):
    runs, result = quick_run
    tail = result.stdout.splitlines()
    assert tail[0].startswith("test accuracy: ")
    assert tail[1] == f"dataset: sklearn-digits ({runs.parent / 'records'})"
    assert tail[2].startswith("WARNING: trained on the fallback sklearn-digits, not on the data ")
    assert "mnist.npz is not cached and allow_download=False" in tail[2]
    assert tail[3].startswith("examples per class, train: 0 ")
    assert tail[4].startswith("examples per class, test: 0 ")
    assert tail[5].startswith(f"run 1 recorded in {runs / '1'} ")


def test_no_tensorflow_start_up_lines(quick_run):
    _, result = quick_run
    assert [line for line in result.stderr.splitlines() if TF_CPP_LINE.match(line)] == []
    assert "MnistFallbackWarning: MNIST is not available" in result.stderr


def test_cout_holds_clean_lines_and_each_bar_once_in_its_last_state(quick_run):
    runs, result = quick_run
    cout = (runs / "1" / "cout.txt").read_text()
    assert "\r" not in cout and "\b" not in cout
    lines = cout.splitlines()
    bars = [line for line in lines if "%|" in line]
    assert [b.split(":")[0] for b in bars] == ["write_records records", "train steps"]
    assert all("100%|" in b for b in bars)
    assert "| 30/30 [" in bars[1]
    warning = next(i for i, line in enumerate(lines) if "MnistFallbackWarning" in line)
    assert not lines[warning + 1].startswith("  ")  # no source line under the warning
    assert lines[-1].startswith("test accuracy: ")
    assert filter_captured_output(cout) == cout
    # The raw stream of the same run, as the terminal got it, filters to the same bars.
    raw_bars = [b for b in filter_captured_output(result.stderr).splitlines() if "%|" in b]
    assert [b.split("|")[0] for b in raw_bars] == [b.split("|")[0] for b in bars]


def _cli(*argv, check=True):
    result = subprocess.run(
        [sys.executable, "-m", "reproml.cli.main", *map(str, argv)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
    )
    assert not check or result.returncode == 0, result.stderr
    return result


def test_export_import_rm_of_a_real_run(quick_run, tmp_path, mongo_db):
    runs, _ = quick_run
    url, db = mongo_db
    archive = tmp_path / "run-1.tar.gz"
    # Sealed when it ended (its model directory inside the run directory is not sealed content).
    assert (
        "OK, the record and 6 artifact(s) match its seal"
        in _cli("--store", runs, "verify", 1).stdout
    )
    out = _cli("--store", runs, "export", "1", "-o", archive).stdout
    assert out.startswith("exported run 1 (mnist, COMPLETED, ") and str(archive) in out
    other = tmp_path / "other"
    assert "as run 1 in" in _cli("import", archive, "--store", other).stdout
    original = json.loads((runs / "1" / "run.json").read_text())
    copy = json.loads((other / "1" / "run.json").read_text())
    (manifest, stored), (manifest2, stored2) = original["resources"][0], copy["resources"][0]
    assert manifest == manifest2 and Path(stored2).read_bytes() == Path(stored).read_bytes()
    for name in original["artifacts"]:
        assert (other / "1" / name).read_bytes() == (runs / "1" / name).read_bytes(), name
    assert "as run 1 in" in _cli("import", archive, "--mongo", url).stdout
    doc = db.runs.find_one({"_id": 1})
    assert doc["info"]["dataset"]["name"] == "sklearn-digits"
    # The seal came along, and both copies still match it.
    for store in (("--store", other), ("--mongo", url)):
        assert "match its seal" in _cli(*store, "verify", 1).stdout
    content = gridfs.GridFS(db).find_one({"filename": manifest}).read()
    assert content == Path(stored).read_bytes()
    # rm with --yes removes the original with its model directory; the copies stay.
    result = _cli("--store", runs, "rm", "1", "--yes")
    assert result.stdout.startswith("deleted run 1 (mnist, COMPLETED, ")
    assert not (runs / "1").exists() and (runs / "_sources").is_dir()
    assert (other / "1" / "saved_model.zip").is_file()
    # The archive brings it back: the store is empty again, so it gets the next free id, 1.
    assert "as run 1 in" in _cli("import", archive, "--store", runs).stdout
    assert (runs / "1" / "saved_model.zip").read_bytes() == (
        other / "1" / "saved_model.zip"
    ).read_bytes()
