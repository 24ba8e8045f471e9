"""experiments/mnist.py end to end with the quick config: file store and a real MongoDB server."""

import json
from pathlib import Path

import gridfs
import pymongo
import pytest

from experiments.mnist import ex
from reproml.errors import ConfigError, UnknownConfigEntryError
from reproml.records.manifest import load_manifest
from reproml.tracking.observers import mongo_observer

pytestmark = pytest.mark.slow


def _run(tmp_path, monkeypatch, data_dir, **updates):
    monkeypatch.setenv("REPROML_RUNS_DIR", str(tmp_path / "runs"))
    return ex.run(
        config_updates={"dataset.data_dir": str(data_dir), **updates}, named_configs=["quick"]
    )


@pytest.fixture(scope="module")
def mongo_run(mnist_records, tmp_path_factory, mongo_server):
    """One quick run recorded in the file store and in MongoDB (a real server, via -m)."""
    from tests.mongo_server import database_url

    data_dir, _ = mnist_records
    tmp = tmp_path_factory.mktemp("mongo-run")
    db = pymongo.MongoClient(database_url(mongo_server, "mnist")).get_default_database()
    observer = mongo_observer(db, f"MongoDB {db.name}")
    mp = pytest.MonkeyPatch()
    mp.setenv("REPROML_RUNS_DIR", str(tmp / "runs"))
    ex.observers.append(observer)
    try:
        run = ex.run(
            config_updates={
                "dataset.data_dir": str(data_dir),
                "lr": 2e-3,
                "augment": {"flip_left_right": True, "brightness": 0.1},
            },
            named_configs=["quick"],
        )
    finally:
        ex.observers.remove(observer)
        mp.undo()
    return run, db


def test_quick_run_recorded_in_file_store(mongo_run, mnist_records):
    run, _ = mongo_run
    data_dir, fingerprint = mnist_records
    store = Path(run.info["run_dir"])
    record = json.loads((store / "run.json").read_text())
    assert record["status"] == "COMPLETED"
    assert 0.0 <= record["result"] <= 1.0 and record["result"] == run.result
    config = json.loads((store / "config.json").read_text())
    assert (config["lr"], config["steps"], config["batch_size"], config["seed"]) == (
        2e-3,
        30,
        32,
        42,
    )
    info = json.loads((store / "info.json").read_text())
    assert info["dataset"]["fingerprint"] == fingerprint == load_manifest(data_dir).fingerprint
    assert info["dataset"]["record_dir"] == str(Path(data_dir).resolve())
    assert info["model"] == "cnn"
    assert info["augment"]["ops"] == {"flip_left_right": True, "brightness": 0.1}
    assert info["augment"]["order"] == ["flip_left_right", "brightness"]
    assert (store / "augmented_train.png").read_bytes()[:4] == b"\x89PNG"
    assert info["tensorboard"] == f"tensorboard --logdir {info['model_dir']}"
    assert any(Path(info["model_dir"]).glob("events.out.tfevents.*"))
    assert {"commit", "dirty", "diff_artifact"} <= set(info["code"])
    assert len(info["code"]["commit"]) == 40
    assert (Path(info["export_dir"]) / "saved_model.pb").is_file()
    for name in [
        "confusion_matrix.png",
        "sample_predictions.png",
        "augmented_train.png",
        "pip-freeze.txt",
        "saved_model.zip",
    ]:
        assert name in record["artifacts"] and (store / name).stat().st_size > 0
    assert (store / "confusion_matrix.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "sacred==0.8.7" in (store / "pip-freeze.txt").read_text()
    assert record["resources"][0][0] == str(Path(data_dir).resolve() / "manifest.json")
    metrics = json.loads((store / "metrics.json").read_text())
    assert metrics["eval.accuracy"]["steps"] == [15, 30]
    assert metrics["eval.accuracy"]["values"][-1] == pytest.approx(run.result)
    assert metrics["train.loss"]["steps"][:3] == [1, 6, 11]
    assert "train.steps_per_sec" in metrics and "eval.confusion_matrix" not in metrics
    # per-class metrics carry the manifest's class names (the digits are named "0".."9")
    per_class = {name for name in metrics if name.startswith(("eval.precision/", "eval.recall/"))}
    assert per_class == {f"eval.{kind}/{d}" for kind in ("precision", "recall") for d in range(10)}
    assert "WARNING:tensorflow" not in (store / "cout.txt").read_text()


def test_quick_run_records_that_it_verified_its_shards(mongo_run, mnist_records):
    run, db = mongo_run
    data_dir, _ = mnist_records
    (entry,) = run.info["records_read"]
    assert entry["record_dir"] == str(data_dir.resolve())
    assert entry["fingerprint"] == run.info["dataset"]["fingerprint"]
    assert (entry["splits"], entry["shards"]) == (["train", "test"], 6)
    assert entry["seconds"] >= 0 and entry["seconds_at_end"] >= 0
    assert entry["verified"] == "sha256 of every shard before reading and when the run ended"
    stored = db.runs.find_one({"_id": run._id})["info"]["records_read"]
    assert stored == [entry]
    assert not (data_dir / ".readers").exists()  # the lease went with the run


def test_quick_run_documents_omniboard_reads(mongo_run):
    run, db = mongo_run
    doc = db.runs.find_one({"_id": run._id})
    assert doc["status"] == "COMPLETED" and doc["result"] == run.result
    assert doc["config"]["lr"] == 2e-3 and doc["config"]["network"] == "cnn"
    assert doc["info"]["dataset"]["name"] == "sklearn-digits"  # the quick config's fallback
    names = {m["name"] for m in doc["info"]["metrics"]}
    assert {"train.loss", "train.steps_per_sec", "eval.accuracy", "eval.loss"} <= names
    loss = db.metrics.find_one({"run_id": run._id, "name": "train.loss"})
    assert loss["steps"][:3] == [1, 6, 11]
    assert len(loss["values"]) == len(loss["timestamps"]) == len(loss["steps"])
    fs = gridfs.GridFS(db)
    artifacts = {a["name"]: a["file_id"] for a in doc["artifacts"]}
    assert fs.get(artifacts["confusion_matrix.png"]).read()[:4] == b"\x89PNG"
    sources = dict(doc["experiment"]["sources"])
    assert "experiments/mnist.py" in sources
    assert b"def main" in fs.get(sources["experiments/mnist.py"]).read()


@pytest.mark.parametrize(
    ("updates", "entry"),
    [
        ({"lr": -0.1}, "lr"),
        ({"batch_size": 0}, "batch_size"),
        ({"optimizer": "adamw"}, "optimizer"),
        ({"dataset.data_path": "/nonexistent/mnist.npz"}, "dataset.data_path"),
        ({"network": "resnet9000"}, "network"),
        ({"lr": float("inf")}, "lr"),
        ({"lr": float("nan")}, "lr"),
        ({"dropout": float("nan")}, "dropout"),
        ({"seed": -1}, "seed"),
        ({"seed": 2**32}, "seed"),
        ({"dataset.data_dir": ""}, "dataset.data_dir"),
        ({"augment": {"flip": True}}, "augment"),
        ({"augment": {"brightness": 5}}, "augment.brightness"),
    ],
)
def test_bad_config_refused_before_anything_runs(tmp_path, monkeypatch, updates, entry):
    with pytest.raises(ConfigError) as info:
        _run(tmp_path, monkeypatch, tmp_path / "data", **updates)
    assert info.value.entry == entry and repr(entry) in str(info.value)
    assert not (tmp_path / "runs").exists() and not (tmp_path / "data").exists()


def test_evaluate_and_export_need_a_trained_model_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("REPROML_RUNS_DIR", str(tmp_path / "runs"))
    for command in ("evaluate", "export"):
        for model_dir in (None, str(tmp_path / "untrained")):
            with pytest.raises(ConfigError, match="'model_dir'"):
                ex.run(command, config_updates={"model_dir": model_dir}, named_configs=["quick"])
    assert not (tmp_path / "runs").exists()


def test_export_command_exports_the_trained_model(mongo_run, mnist_records, tmp_path, monkeypatch):
    run, _ = mongo_run
    data_dir, _ = mnist_records
    monkeypatch.setenv("REPROML_RUNS_DIR", str(tmp_path / "runs"))
    exported = ex.run(
        "export",
        config_updates={"dataset.data_dir": str(data_dir), "model_dir": run.info["model_dir"]},
        named_configs=["quick"],
    )
    assert (Path(exported.result) / "saved_model.pb").is_file()
    assert exported.info["export_dir"] == str(Path(exported.result).resolve())


def test_unknown_config_key_refused_naming_it(tmp_path, monkeypatch):
    with pytest.raises(UnknownConfigEntryError, match="config entry 'learning_rate'"):
        _run(tmp_path, monkeypatch, tmp_path / "data", learning_rate=0.1)
    assert not (tmp_path / "runs").exists()


def test_rerun_and_evaluate_command_reuse_model_dir(
    mongo_run, mnist_records, tmp_path, monkeypatch
):
    run, _ = mongo_run
    data_dir, _ = mnist_records
    again = _run(tmp_path, monkeypatch, data_dir, model_dir=run.info["model_dir"])
    # Already trained to `steps`: nothing is retrained, the same checkpoint gives the same result.
    assert again.info["resumed_from_step"] == 30
    assert again.result == pytest.approx(run.result)
    monkeypatch.setenv("REPROML_RUNS_DIR", str(tmp_path / "runs"))
    evaluated = ex.run(
        "evaluate",
        config_updates={"dataset.data_dir": str(data_dir), "model_dir": run.info["model_dir"]},
        named_configs=["quick"],
    )
    assert evaluated.result == pytest.approx(run.result)
    assert (
        "confusion_matrix.png"
        in json.loads((Path(evaluated.info["run_dir"]) / "run.json").read_text())["artifacts"]
    )
