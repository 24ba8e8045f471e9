"""Guarded observers: a store lost mid-run is reported once; credentials are never recorded."""

import json
import logging
from pathlib import Path

import gridfs
import mongomock
import mongomock.gridfs
import pymongo.errors
import pytest

import reproml.tracking.experiment as experiment_module
from reproml.tracking.experiment import ReproExperiment
from reproml.tracking.observers import mongo_observer

mongomock.gridfs.enable_gridfs_integration()
# Built at run time: Sacred stores this file as a source, and a password typed into source code
# is out of reach of any scrubber (the real one comes from REPROML_MONGO_URL).
PASSWORD = "-".join(["Tr0ub4dor", str(9 * 11)])
URL = f"mongodb://alice:{PASSWORD}@mongo.internal:27017/team"


def make_experiment():
    ex = ReproExperiment("tiny", record_code_state=False)

    @ex.config
    def config():
        note = "plain"  # noqa: F841 - a free-text entry

    @ex.main
    def main(_run, note, tmp):
        print(f"connecting to {URL} ({note})")
        logging.getLogger("tiny").warning("url is %s", URL)
        _run.info["where"] = URL
        for step in range(5):
            _run.log_scalar("train.loss", 1.0 / (step + 1), step)
        artifact = Path(tmp) / "notes.txt"
        artifact.write_text(f"db={URL}\npassword={PASSWORD}\n")
        _run.add_artifact(str(artifact))
        return 0.5

    ex.add_config(tmp="")
    return ex


@pytest.fixture
def mock_db(monkeypatch, tmp_path):
    monkeypatch.setenv("REPROML_RUNS_DIR", str(tmp_path / "runs"))
    client = mongomock.MongoClient()
    db = client["team"]
    monkeypatch.setenv("REPROML_MONGO_URL", URL)
    # The env URL is honoured; the "server" is mongomock (no MongoDB exists here).
    monkeypatch.setattr(
        experiment_module,
        "mongo_observer_for",
        lambda target: mongo_observer(db, f"MongoDB {target.display}/{target.db_name}"),
    )
    return db


def _everything_recorded(db, runs_dir: Path) -> str:
    parts = [json.dumps(list(db.runs.find()), default=str)]
    parts.append(json.dumps(list(db.metrics.find()), default=str))
    fs = gridfs.GridFS(db)
    for f in db["fs.files"].find():
        parts.append(fs.get(f["_id"]).read().decode("utf-8", "replace"))
    for path in runs_dir.rglob("*"):
        if path.is_file():
            parts.append(path.read_bytes().decode("utf-8", "replace"))
    return "\n".join(parts)


def test_password_in_mongo_url_never_recorded(mock_db, tmp_path, caplog):
    ex = make_experiment()
    with caplog.at_level(logging.INFO):
        run = ex.run(config_updates={"note": f"uses {URL}", "tmp": str(tmp_path)})
    assert run.result == 0.5
    recorded = _everything_recorded(mock_db, tmp_path / "runs")
    assert "mongo.internal" in recorded and "alice" in recorded  # the records are there...
    assert PASSWORD not in recorded  # ...without the password
    doc = mock_db.runs.find_one()
    assert doc["status"] == "COMPLETED"
    assert doc["config"]["note"] == "uses mongodb://alice:***@mongo.internal:27017/team"
    assert PASSWORD not in caplog.text


def test_mongo_lost_mid_run_finishes_on_file_store_and_reports_once(monkeypatch, tmp_path, caplog):
    monkeypatch.setenv("REPROML_RUNS_DIR", str(tmp_path / "runs"))
    db = mongomock.MongoClient()["lost"]
    lost = {"now": False}

    def ping():
        if lost["now"]:
            raise pymongo.errors.ServerSelectionTimeoutError("mongo.internal:27017: timed out")

    observer = mongo_observer(db, "MongoDB mongo.internal:27017/lost", ping=ping)

    def fail_if_lost(original):
        def call(*args, **kwargs):
            if lost["now"]:
                raise pymongo.errors.ServerSelectionTimeoutError("mongo.internal:27017: timed out")
            return original(*args, **kwargs)

        return call

    monkeypatch.setattr(db.runs, "update_one", fail_if_lost(db.runs.update_one))
    monkeypatch.setattr(observer.observer.fs, "put", fail_if_lost(observer.observer.fs.put))

    ex = make_experiment()

    @ex.pre_run_hook
    def lose_mongo():
        lost["now"] = True

    ex.observers.append(observer)
    with caplog.at_level(logging.WARNING):
        run = ex.run(config_updates={"tmp": str(tmp_path)})
    assert run.result == 0.5
    store = Path(run.info["run_dir"])
    record = json.loads((store / "run.json").read_text())
    assert record["status"] == "COMPLETED" and record["result"] == 0.5
    assert record["artifacts"] == ["notes.txt"]
    metrics = json.loads((store / "metrics.json").read_text())
    assert metrics["train.loss"]["steps"] == [0, 1, 2, 3, 4]
    reports = [r for r in caplog.records if "mongo.internal:27017/lost" in r.getMessage()]
    assert len(reports) == 1, [r.getMessage() for r in caplog.records]
    assert "failed at some point" not in caplog.text  # Sacred's own second report is not needed
    assert db.runs.find_one()["status"] == "RUNNING"  # the last state Mongo received
