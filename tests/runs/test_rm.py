"""`reproml rm`: a run goes with its artifacts, on both stores, only after it was confirmed."""

from __future__ import annotations

import datetime as dt
import io
import json

import gridfs
import pytest


class Terminal(io.StringIO):
    """A stdin that says it is a terminal and answers with the given lines."""

    def isatty(self) -> bool:
        return True


def _ids(store) -> list[str]:
    return sorted(p.name for p in store.iterdir() if not p.name.startswith(("_", ".")))


def test_rm_yes_deletes_the_run_dir_and_keeps_shared_sources(store_copy, cli, no_mongo_env):
    sources = sorted(p.name for p in (store_copy / "_sources").iterdir())
    code, out, err = cli("--store", store_copy, "rm", "2", "--yes")
    assert code == 0, err
    assert out.startswith("deleted run 2 (toy, COMPLETED, ") and f"from {store_copy}:" in out
    assert _ids(store_copy) == ["1", "3", "4"]
    assert sorted(p.name for p in (store_copy / "_sources").iterdir()) == sources
    assert not [p for p in store_copy.iterdir() if p.name.startswith(".deleting")]
    code, out, _ = cli("--store", store_copy, "runs")
    assert code == 0 and [line.split()[0] for line in out.splitlines()[2:]] == ["1", "3", "4"]


def test_rm_asks_first_and_only_yes_deletes(store_copy, cli, no_mongo_env, monkeypatch):
    monkeypatch.setattr("sys.stdin", Terminal("n\ny\n"))
    code, out, err = cli("--store", store_copy, "rm", "1", "3")
    assert code == 0, err
    questions = err.split(" [y/N] ")
    assert questions[0].startswith("delete run 1 (toy, COMPLETED, 20") and questions[0].endswith(
        "?"
    )
    assert questions[1].startswith("delete run 3 (toy_gan, COMPLETED, ")
    assert out.splitlines()[0] == "kept run 1"
    assert out.splitlines()[1].startswith("deleted run 3 (toy_gan, COMPLETED, ")
    assert _ids(store_copy) == ["1", "2", "4"]


def test_rm_without_a_terminal_refuses_in_one_line(store_copy, cli, no_mongo_env, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO("y\n"))  # piped: nobody can confirm
    code, out, err = cli("--store", store_copy, "rm", "1", "2")
    assert code == 2 and out == ""
    assert err == (
        "reproml rm: error: stdin is not a terminal, so nobody can confirm: pass --yes to "
        "delete 1, 2\n"
    )
    assert _ids(store_copy) == ["1", "2", "3", "4"]


@pytest.mark.parametrize(
    ("ids", "message"),
    [
        (["1", "99"], "no run '99' in"),
        (["_sources"], "no run '_sources' in"),
    ],
)
def test_rm_of_an_unknown_id_deletes_nothing(store_copy, cli, no_mongo_env, ids, message):
    code, out, err = cli("--store", store_copy, "rm", *ids, "--yes")
    assert code == 2 and message in err and len(err.splitlines()) == 1
    assert _ids(store_copy) == ["1", "2", "3", "4"]
    assert (store_copy / "_sources").is_dir()


def test_rm_refuses_a_run_that_is_still_running(store_copy, cli, no_mongo_env):
    run_json = store_copy / "1" / "run.json"
    entry = json.loads(run_json.read_text())
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None).isoformat()
    entry.update(status="RUNNING", heartbeat=now, stop_time=None)
    run_json.write_text(json.dumps(entry))
    code, _, err = cli("--store", store_copy, "rm", "1", "--yes")
    assert code == 2 and "is still running" in err and "PROBABLY_DEAD" in err
    assert (store_copy / "1" / "run.json").is_file()


def test_rm_in_mongo_deletes_document_metrics_and_artifacts_not_sources(
    world, cli, mongo_db, no_mongo_env
):
    url, db = mongo_db
    assert cli("push", world.store, "--mongo", url)[0] == 0
    fs = gridfs.GridFS(db)
    doc = db.runs.find_one({"meta.pushed_from.run_id": "2"})
    run_id = doc["_id"]
    sources = {f._id for f in fs.find({"filename": {"$not": {"$regex": "^artifact://"}}})}
    assert sources and doc["artifacts"] and db.metrics.count_documents({"run_id": run_id})
    others = db.runs.count_documents({}) - 1
    code, out, err = cli("--mongo", url, "rm", str(run_id), "--yes")
    assert code == 0, err
    metrics = len(world.db.metrics.distinct("name", {"run_id": 2}))
    assert out.startswith(f"deleted run {run_id} (toy, COMPLETED, ")
    assert out.rstrip().endswith(f"document, {metrics} metrics, {len(doc['artifacts'])} artifacts")
    assert db.runs.find_one({"_id": run_id}) is None
    assert db.metrics.count_documents({"run_id": run_id}) == 0
    assert not list(fs.find({"filename": {"$regex": f"^artifact://runs/{run_id}/"}}))
    assert {f._id for f in fs.find({"filename": {"$not": {"$regex": "^artifact://"}}})} == sources
    assert db.runs.count_documents({}) == others
    for other in db.runs.find():  # the other runs keep every artifact
        for artifact in other["artifacts"]:
            assert fs.exists(artifact["file_id"])
