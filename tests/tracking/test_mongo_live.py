"""A run recorded live in a real MongoDB-protocol server through REPROML_MONGO_URL and -m."""

from sacred import Experiment

from reproml.runs.mongo import connect, target_from_url
from reproml.tracking import experiment as rx


def _experiment() -> Experiment:
    ex = rx.track(Experiment("live"), record_code_state=False)

    @ex.main
    def main(_run):
        for step in range(3):
            _run.log_scalar("train.loss", 1.0 / (step + 1), step)
        return 1.5

    return ex


def test_run_recorded_in_mongo_from_the_environment(mongo_db, monkeypatch, tmp_path):
    url, _ = mongo_db
    monkeypatch.setenv("REPROML_MONGO_URL", url)
    monkeypatch.setenv("REPROML_RUNS_DIR", str(tmp_path / "runs"))
    db = connect(target_from_url(url))
    run = _experiment().run()
    doc = db.runs.find_one({"_id": run._id})
    assert doc["status"] == "COMPLETED" and doc["result"] == 1.5
    metric = db.metrics.find_one({"run_id": run._id, "name": "train.loss"})
    assert metric["steps"] == [0, 1, 2]
    assert (tmp_path / "runs" / "1" / "run.json").is_file()  # and in the file store


def test_run_recorded_in_mongo_from_sacreds_m_flag(mongo_db, monkeypatch, tmp_path):
    url, db = mongo_db
    monkeypatch.delenv("REPROML_MONGO_URL", raising=False)
    host_port = url.split("://", 1)[1].split("/")[0]
    run = _experiment().run(
        options={"--mongo_db": f"{host_port}:{db.name}", "--runs_dir": str(tmp_path / "r")}
    )
    doc = db.runs.find_one({"_id": run._id})
    assert doc["status"] == "COMPLETED"
    assert doc["meta"]["options"]["--mongo_db"] == f"{host_port}:{db.name}"
    guarded = [o.name for o in run.observers]
    assert guarded == ["file store", f"MongoDB {host_port}/{db.name}"] or sorted(guarded) == sorted(
        ["file store", f"MongoDB {host_port}/{db.name}"]
    )
    assert (tmp_path / "r" / "1" / "run.json").is_file()
