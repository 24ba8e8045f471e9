"""Warm start from a run (``init_from``): the child starts from the parent's checkpoint, its
lineage is shown by show / compare / leaderboard, reproduce needs the parent's checkpoint and
rm of the parent names the children."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import tensorflow as tf

from reproml.errors import ConfigError
from reproml.models.classifier import make_classifier
from reproml.recipes.classifier import check_warm_start_fits
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
def _keras_features(params):
    return tf.keras.Sequential([tf.keras.layers.Flatten(), tf.keras.layers.Dense(4, name="f")])


def test_a_parent_checkpoint_of_another_model_is_refused_naming_init_from(digits_records, tmp_path):
    # init_from a cnn run into a Keras network failed in train with a TensorFlow traceback:
    # "ValueError: Shape of variable logits/kernel:0 ((8, 3)) doesn't match ...".
    parent = make_classifier(tmp_path / "parent", TINY_CLASSIFIER, seed=1)
    parent.train(input_fn("train", 16, digits_records, random_seed=0), max_steps=1)
    checkpoint = parent.latest_checkpoint()
    check_warm_start_fits("1", checkpoint, {**TINY_CLASSIFIER, "lr": 0.5})  # same model: fits
    wider = {**TINY_CLASSIFIER, "dense_units": 32}
    with pytest.raises(ConfigError) as refused:
        check_warm_start_fits("1", checkpoint, wider)
    assert str(refused.value) == (
        "config entry 'init_from': expected a run whose checkpoint fits this model (variable "
        f"'dense/bias' is [16] in {checkpoint}, this model needs [32]), got '1'"
    )
    keras = {**TINY_CLASSIFIER, "network": _keras_features}
    with pytest.raises(
        ConfigError,
        match=r"^config entry 'init_from': .* lacks variable '.*f/.*another network\), got 7$",
    ):
        check_warm_start_fits(7, checkpoint, keras)


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


@pytest.mark.slow
def test_init_from_a_run_in_mongodb_finds_the_parent_there(tmp_path, mongo_db):
    """A run recording into MongoDB names its parent by its MongoDB id, which is not the id of
    the same run in the file store: the child starts from the MongoDB parent's checkpoint."""
    url, db = mongo_db
    # Another run already holds MongoDB id 1: the parent is run 2 there, run 1 in the file store.
    db.runs.insert_one({"_id": 1, "experiment": {"name": "other"}, "status": "COMPLETED"})
    project = make_user_project(tmp_path)
    parent = run_colours(project, REPROML_MONGO_URL=url)
    assert parent.returncode == 0, parent.stderr[-3000:]
    assert db.runs.find_one({"_id": 2})["experiment"]["name"] == "colours"
    checkpoint = json.loads((project.runs / "1" / "info.json").read_text())["best_checkpoint"]
    child = run_colours(project, "init_from=2", "steps=2", REPROML_MONGO_URL=url)
    assert child.returncode == 0, child.stderr[-3000:]
    lineage = db.runs.find_one({"_id": 3})["info"]["lineage"]
    store = "MongoDB " + url.split("://", 1)[1]
    assert lineage == {
        "parent": "2",
        "checkpoint": checkpoint["path"],
        "experiment": "colours",
        "store": store,
    }
    # The child's file-store copy (run 2 there) names the parent with its store, not as run 2.
    assert json.loads((project.runs / "2" / "info.json").read_text())["lineage"] == lineage
    shown = project.reproml("show", "2").stdout.splitlines()
    assert f"  parent      run 2 in {store} (warm start from {checkpoint['path']})" in shown
    in_mongo = project.reproml("--mongo", url, "show", "3").stdout.splitlines()
    assert f"  parent      run 2 (warm start from {checkpoint['path']})" in in_mongo
    refused = project.reproml("--mongo", url, "rm", "2", "--yes")
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "run 2 is the warm-start parent (init_from) of run(s) 3" in refused.stderr
    # The parent's checkpoint is in the file store's run 1. The child's file-store copy (run 2)
    # names its parent by its MongoDB id, but started from inside run 1: rm of run 1 names it.
    in_files = project.reproml("rm", "1", "--yes")
    assert in_files.returncode == 2, in_files.stdout + in_files.stderr
    assert (
        in_files.stderr.strip()
        .splitlines()[-1]
        .endswith(
            "run 1 is the warm-start parent (init_from) of run(s) 2, which need its checkpoint to "
            "be reproduced: delete them too (list them in the same rm) or keep it"
        )
    )
    # The reverse: deleting the MongoDB parent and child while the child's file-store copy stays.
    reverse = project.reproml(
        "--mongo", url, "rm", "2", "3", "--yes", "--children-in", str(project.runs)
    )
    assert reverse.returncode == 2, reverse.stdout + reverse.stderr
    assert (
        reverse.stderr.strip()
        .splitlines()[-1]
        .endswith(
            f"run 2 is the warm-start parent (init_from) of run(s) 2 in {project.runs}, which need "
            "its checkpoint to be reproduced: delete them there first or keep it"
        )
    )
    # With the child's file-store copy gone, its MongoDB record still needs run 1's checkpoint:
    # seen when rm is pointed at MongoDB, not otherwise (docs/cli/rm.md says so).
    assert project.reproml("rm", "2", "--yes").returncode == 0
    elsewhere = project.reproml("rm", "1", "--yes", "--children-in", url)
    assert elsewhere.returncode == 2, elsewhere.stdout + elsewhere.stderr
    assert (
        elsewhere.stderr.strip()
        .splitlines()[-1]
        .endswith(
            f"run 1 is the warm-start parent (init_from) of run(s) 3 in {store}, which need its "
            "checkpoint to be reproduced: delete them there first or keep it"
        )
    )
    assert (project.runs / "1" / "model").is_dir() and db.runs.count_documents({"_id": 3}) == 1


def test_init_from_a_missing_mongodb_run_names_the_database(tmp_path, mongo_db):
    url, db = mongo_db
    project = make_user_project(tmp_path)
    proc = run_colours(project, "init_from=7", REPROML_MONGO_URL=url)
    assert proc.returncode != 0
    last = proc.stderr.strip().splitlines()[-1]
    assert "init_from" in last and f"MongoDB {url.split('://', 1)[1]}" in last, last
    assert "no run '7'" in last, last


def test_a_mongodb_parent_is_named_with_its_store_outside_mongodb():
    lineage = {"parent": "2", "checkpoint": "/m/ckpt", "store": "MongoDB h:1/db"}
    file_copy = _record("5", {"lineage": lineage})
    mongo_copy = RunRecord(**{**vars(file_copy), "raw": {"_id": 3}})
    assert parent_of(file_copy) == "2 in MongoDB h:1/db"
    assert parent_of(mongo_copy) == "2"
    assert children_of([file_copy], "2") == [] and children_of([mongo_copy], "2") == ["5"]
