"""A real quick run that stops early: the best checkpoint is kept, exported, reported, shown."""

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.quick_runs import ROOT, run_cli

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def stopped_run(tmp_path_factory, quick_data_dir):
    """`best_mode=min` on accuracy: the first evaluation stays the best, patience 1 stops at 30."""
    tmp = tmp_path_factory.mktemp("early-stop")
    result = subprocess.run(
        [
            sys.executable, "-m", "experiments.mnist", "with", "quick",
            f"dataset.data_dir={quick_data_dir}", "steps=45", "eval_every=15",
            "best_mode=min", "patience=1",
        ],
        cwd=ROOT,
        env={**os.environ, "REPROML_RUNS_DIR": str(tmp / "runs")},
        capture_output=True,
        text=True,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return tmp / "runs", Path(tmp / "runs" / "1"), result


def test_training_stops_and_the_best_checkpoint_is_recorded(stopped_run):
    _, run_dir, _ = stopped_run
    info = json.loads((run_dir / "info.json").read_text())
    assert info["early_stopping"] == {
        "stopped_at_step": 30,
        "metric": "accuracy",
        "patience": 1,
        "best_step": 15,
    }
    best = info["best_checkpoint"]
    assert (best["step"], best["metric"], best["mode"]) == (15, "accuracy", "min")
    assert best["path"] == str(run_dir / "model" / "best" / "model.ckpt-15")
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["eval.accuracy"]["steps"] == [15, 30]  # no evaluation at 45
    assert best["value"] == metrics["eval.accuracy"]["values"][0]
    assert best["metrics"]["accuracy"] == best["value"]
    result = json.loads((run_dir / "run.json").read_text())["result"]
    assert result == best["value"]  # the run reports the best checkpoint, not the last


def test_the_export_is_the_best_checkpoint(stopped_run):
    import numpy as np
    import tensorflow as tf

    _, run_dir, _ = stopped_run
    info = json.loads((run_dir / "info.json").read_text())
    best = tf.train.load_checkpoint(info["best_checkpoint"]["path"])
    last = tf.train.load_checkpoint(str(run_dir / "model" / "model.ckpt-30"))
    exported = tf.saved_model.load(info["export_dir"])
    values = {v.name.split(":")[0]: v.numpy() for v in exported.variables}
    kernel = values["logits/kernel"]
    np.testing.assert_array_equal(kernel, best.get_tensor("logits/kernel"))
    assert not np.array_equal(kernel, last.get_tensor("logits/kernel"))


def test_model_summary_history_and_curves(stopped_run):
    _, run_dir, _ = stopped_run
    info = json.loads((run_dir / "info.json").read_text())
    summary = info["model_summary"]
    layers = {layer["name"]: layer for layer in summary["layers"]}
    assert layers["conv0"] == {
        "name": "conv0",
        "output_shape": [None, 28, 28, 32],
        "parameters": 832,
    }
    assert layers["logits"]["output_shape"] == [None, 10]
    assert layers["logits"]["parameters"] == 128 * 10 + 10
    assert summary["parameters"] == sum(layer["parameters"] for layer in summary["layers"])
    assert summary["saved_model_bytes"] > 0 and summary["checkpoint_bytes"] > 0
    with open(run_dir / "history.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["step"]) for r in rows if r["eval.accuracy"]] == [15, 30]
    assert all(float(r["train.loss"]) > 0 for r in rows if r["train.loss"])
    artifacts = json.loads((run_dir / "run.json").read_text())["artifacts"]
    assert {"history.csv", "roc_pr_curves.png", "confusion_matrix.png"} <= set(artifacts)
    assert (run_dir / "roc_pr_curves.png").read_bytes()[:4] == b"\x89PNG"
    assert set(info["roc_pr"]) == {str(i) for i in range(10)}
    assert all(0 <= s["roc_auc"] <= 1 for s in info["roc_pr"].values())


def test_show_and_leaderboard_print_the_model(stopped_run):
    store, _, _ = stopped_run
    shown = run_cli("--store", store, "show", "1", cwd=ROOT).stdout
    assert "best checkpoint   step 15 (accuracy" in shown
    assert "early stopping    stopped at step 30 (patience 1)" in shown
    assert "conv0    (None, 28, 28, 32)         832" in shown
    board = run_cli("--store", store, "leaderboard", "--csv", store / "lb.csv", cwd=ROOT).stdout
    header, _, row = board.splitlines()[:3]
    assert header.split()[6:8] == ["params", "size_mb"] and "best_step" in header
    with open(store / "lb.csv", newline="") as f:
        (line,) = list(csv.DictReader(f))
    info = json.loads((store / "1" / "info.json").read_text())
    assert int(line["params"]) == info["model_summary"]["parameters"]
    assert int(line["best_step"]) == 15
    assert float(line["accuracy"]) == info["best_checkpoint"]["value"]
