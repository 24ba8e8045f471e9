"""Warm start from a run (``init_from``): the child starts from the parent's checkpoint, its
lineage is shown by show / compare / leaderboard, reproduce needs the parent's checkpoint and
rm of the parent names the children."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import tensorflow as tf

from reproml.models.classifier import make_classifier
from reproml.records.reader import input_fn
from reproml.runs.lineage import children_of, lineage_problems, parent_of
from reproml.runs.record import RunRecord
from reproml.tracking.warm_start import MODEL_VARIABLES
from tests.models.conftest import TINY_CLASSIFIER
from tests.models.user_project import make_user_project, run_colours


def _record(run_id: str, info: dict) -> RunRecord:
    return RunRecord(
        run_id=run_id, experiment="colours", status="COMPLETED", start_time=None,
        stop_time=None, heartbeat=None, config={}, result=None, info=info, metrics={},
        artifacts=[], raw={}, location="",
    )  # fmt: skip


def test_lineage_reads_parent_children_and_missing_parent_files(tmp_path):
    checkpoint = tmp_path / "model.ckpt-4"
    child = _record("2", {"lineage": {"parent": "1", "checkpoint": str(checkpoint)}})
    runs = [_record("1", {}), child, _record("3", {"lineage": {"parent": "2"}})]
    assert parent_of(child) == "1" and parent_of(runs[0]) is None
    assert children_of(runs, "1") == ["2"] and children_of(runs, "3") == []
    assert lineage_problems(child) == [
        f"it was warm-started from run 1, whose checkpoint {checkpoint} is missing (the re-run "
        "needs the parent's files)"
    ]
    (tmp_path / "model.ckpt-4.index").write_bytes(b"")
    assert lineage_problems(child) == []


def test_a_warm_started_classifier_starts_from_the_parent_checkpoint(digits_records, tmp_path):
    params = {**TINY_CLASSIFIER, "optimizer": "sgd", "lr": 0.1}
    parent = make_classifier(tmp_path / "parent", params, seed=1)
    parent.train(input_fn("train", 16, digits_records, random_seed=0), max_steps=2)
    # another optimizer (its slots are not in the parent's checkpoint: not warm-started), and
    # a step too small to move the weights
    still = {**params, "optimizer": "adam", "lr": 1e-30}
    settings = tf.estimator.WarmStartSettings(parent.latest_checkpoint(), MODEL_VARIABLES)
    child = make_classifier(tmp_path / "child", still, seed=2, warm_start_from=settings)
    child.train(input_fn("train", 16, digits_records, random_seed=0), max_steps=1)
    scratch = make_classifier(tmp_path / "scratch", still, seed=2)
    scratch.train(input_fn("train", 16, digits_records, random_seed=0), max_steps=1)
    for name in ("conv0/kernel", "dense/kernel", "logits/kernel"):
        want = parent.get_variable_value(name)
        np.testing.assert_allclose(child.get_variable_value(name), want, rtol=0, atol=1e-12)
        assert not np.allclose(scratch.get_variable_value(name), want)


@pytest.mark.slow
def test_init_from_a_run_records_lineage_shown_guarded_and_reproduced(tmp_path):
    project = make_user_project(tmp_path)
    assert run_colours(project).returncode == 0
    proc = run_colours(project, "init_from=1", "steps=2")
    assert proc.returncode == 0, proc.stderr[-3000:]
    info = json.loads((project.runs / "2" / "info.json").read_text())
    parent_info = json.loads((project.runs / "1" / "info.json").read_text())
    checkpoint = parent_info["best_checkpoint"]["path"]
    assert info["lineage"] == {"parent": "1", "checkpoint": checkpoint, "experiment": "colours"}
    shown = project.reproml("show", "2").stdout
    assert f"  parent      run 1 (warm start from {checkpoint})" in shown.splitlines()
    board = project.reproml("leaderboard", "--csv", str(tmp_path / "board.csv"))
    assert board.returncode == 0, board.stderr
    rows = (tmp_path / "board.csv").read_text().splitlines()
    header = rows[0].split(",")
    parents = {r.split(",")[0]: r.split(",")[header.index("parent")] for r in rows[1:]}
    assert parents == {"1": "", "2": "1"}
    compared = project.reproml("compare", "1", "2").stdout
    assert any(line.split()[:3] == ["parent", "-", "1"] for line in compared.splitlines()), compared
    refused = project.reproml("rm", "1", "--yes")
    assert refused.returncode == 2
    assert (
        refused.stderr.strip()
        .splitlines()[-1]
        .endswith(
            "run 1 is the warm-start parent (init_from) of run(s) 2, which need its checkpoint to "
            "be reproduced: delete them too (list them in the same rm) or keep it"
        )
    )
    assert (project.runs / "1").is_dir()
    repro = project.reproml("reproduce", "2", cwd=tmp_path)
    assert repro.returncode == 0, repro.stdout + repro.stderr
    assert repro.stdout.splitlines()[-1] == "run 2 reproduced exactly"
    best = project.runs / "1" / "model" / "best"
    shutil.move(best, tmp_path / "moved")
    missing = project.reproml("reproduce", "2", cwd=tmp_path)
    assert missing.returncode == 2
    assert (
        f"it was warm-started from run 1, whose checkpoint {checkpoint} is missing (the re-run "
        "needs the parent's files)" in missing.stderr.strip().splitlines()[-1]
    )
    assert tf.io.gfile.exists(str(tmp_path / "moved"))
