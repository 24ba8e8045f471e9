"""Guarded observers on a real MongoDB-protocol server: credentials are never recorded; a store
lost mid-run (the server is stopped) is reported once and the run finishes in the file store."""

import json
import logging
import uuid
from pathlib import Path

import gridfs
import pymongo
import pytest
from sacred import Experiment

from reproml.tracking import experiment as rx
from tests.mongo_server import secantus_server

# Built at run time: Sacred stores this file as a source, and a password typed into source code
# is out of reach of any scrubber (the real one comes from REPROML_MONGO_URL).
PASSWORD = "-".join(["Tr0ub4dor", str(9 * 11)])


def make_experiment(url: str) -> Experiment:
    ex = rx.track(Experiment("tiny"), record_code_state=False)

    @ex.config
    def config():
        note = "plain"  # noqa: F841 - a free-text entry

    @ex.main
    def main(_run, note, tmp):
        print(f"connecting to {url} ({note})")
        logging.getLogger("tiny").warning("url is %s", url)
        _run.info["where"] = url
        for step in range(5):
            _run.log_scalar("train.loss", 1.0 / (step + 1), step)
        artifact = Path(tmp) / "notes.txt"
        artifact.write_text(f"db={url}\npassword={PASSWORD}\n")
        _run.add_artifact(str(artifact))
        return 0.5

    ex.add_config(tmp="")
    return ex


@pytest.fixture
def authenticated_db(mongo_server, monkeypatch, tmp_path):
    """A database on the real server reached as user alice, whose password is PASSWORD."""
    admin = pymongo.MongoClient(mongo_server)
    user = f"alice_{uuid.uuid4().hex[:6]}"
    admin.admin.command("createUser", user, pwd=PASSWORD, roles=["root"])
    name = f"team_{uuid.uuid4().hex[:8]}"
    host = mongo_server.split("://", 1)[1]
    url = f"mongodb://{user}:{PASSWORD}@{host}/{name}?authSource=admin"
    monkeypatch.setenv("REPROML_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.setenv("REPROML_MONGO_URL", url)
    yield url, admin[name]
    admin.drop_database(name)
    admin.admin.command("dropUser", user)


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


def test_password_in_mongo_url_never_recorded(authenticated_db, tmp_path, caplog):
    url, db = authenticated_db
    ex = make_experiment(url)
    with caplog.at_level(logging.INFO):
        run = ex.run(config_updates={"note": f"uses {url}", "tmp": str(tmp_path)})
    assert run.result == 0.5
    recorded = _everything_recorded(db, tmp_path / "runs")
    assert "alice_" in recorded and db.name in recorded  # the records are there...
    assert PASSWORD not in recorded  # ...without the password
    doc = db.runs.find_one()
    assert doc["status"] == "COMPLETED"
    assert doc["config"]["note"] == "uses " + url.replace(PASSWORD, "***")
    assert PASSWORD not in caplog.text


def test_environment_variables_are_not_recorded(authenticated_db, tmp_path, monkeypatch):
    url, db = authenticated_db
    name, value = "_".join(["REPROML", "TEST", "ENV", "TOKEN"]), "tok-" + uuid.uuid4().hex
    monkeypatch.setenv(name, value)  # built at run time: this file is stored as a source
    ex = make_experiment(url)
    ex.run(config_updates={"tmp": str(tmp_path)})
    recorded = _everything_recorded(db, tmp_path / "runs")
    assert value not in recorded and name not in recorded


def test_mongo_lost_mid_run_finishes_on_file_store_and_reports_once(monkeypatch, tmp_path, caplog):
    """The real server is stopped after the run started; the run still COMPLETES in the file
    store, and the lost store is named once (the exit status is the subject of another test)."""
    monkeypatch.setenv("REPROML_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.delenv("REPROML_MONGO_URL", raising=False)
    with secantus_server(str(tmp_path / "db")) as server:
        url = f"{server.url}/lost"
        monkeypatch.setenv("REPROML_MONGO_URL", url)
        ex = make_experiment(url)
        controller = {}

        @ex.pre_run_hook
        def lose_mongo(_run):
            controller["observer"] = [o for o in _run.observers if "MongoDB" in o.name][0]
            controller["started_doc"] = pymongo.MongoClient(server.url).lost.runs.find_one()
            server.stop()  # MongoDB is gone from here on

        with caplog.at_level(logging.WARNING):
            run = ex.run(config_updates={"tmp": str(tmp_path)})
    assert controller["started_doc"]["status"] == "RUNNING"  # Mongo had the start
    assert run.result == 0.5
    store = Path(run.info["run_dir"])
    record = json.loads((store / "run.json").read_text())
    assert record["status"] == "COMPLETED" and record["result"] == 0.5
    assert record["artifacts"] == ["notes.txt"]
    metrics = json.loads((store / "metrics.json").read_text())
    assert metrics["train.loss"]["steps"] == [0, 1, 2, 3, 4]
    host = url.split("://", 1)[1]
    reports = [r for r in caplog.records if "failed during" in r.getMessage()]
    assert len(reports) == 1, [r.getMessage() for r in caplog.records]
    assert host in reports[0].getMessage()
    assert "failed at some point" not in caplog.text  # Sacred's own second report is not needed
    assert controller["observer"].failure is not None
