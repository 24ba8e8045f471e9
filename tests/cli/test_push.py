"""`reproml push` against a real MongoDB-protocol server: layout, idempotence, ids, faults."""

from __future__ import annotations

import threading

import gridfs
import pytest

from reproml.runs.file_store import FileStore
from reproml.runs.push import push_run, run_key


def _counts(db) -> tuple[int, int, int]:
    return (
        db.runs.count_documents({}),
        db.metrics.count_documents({}),
        db["fs.files"].count_documents({}),
    )


def test_push_writes_the_layout_mongo_observer_writes(world, cli, mongo_db, no_mongo_env):
    target, pushed = mongo_db
    code, out, err = cli("push", world.store, "--mongo", target)
    assert code == 0, err
    assert out.splitlines()[-1] == "4 added, 0 updated, 0 unchanged, 0 already recorded (0 skipped)"
    reference = world.db  # what Sacred's MongoObserver wrote live for the same runs
    assert pushed.runs.count_documents({}) == 4
    for ref in reference.runs.find():
        doc = pushed.runs.find_one({"meta.pushed_from.run_id": str(ref["_id"])})
        assert set(doc) == set(ref)
        for field in ("status", "result", "config", "command", "host", "format"):
            assert doc[field] == ref[field], field
        assert {k: v for k, v in doc["meta"].items() if k != "pushed_from"} == ref["meta"]
        assert doc["start_time"] == ref["start_time"] and doc["stop_time"] == ref["stop_time"]
        strip = {k: v for k, v in ref["info"].items() if k != "metrics"}
        assert {k: v for k, v in doc["info"].items() if k != "metrics"} == strip
        assert doc["experiment"]["name"] == ref["experiment"]["name"]
        assert [s[0] for s in doc["experiment"]["sources"]] == [
            s[0] for s in ref["experiment"]["sources"]
        ]
        assert doc["captured_out"] == ref["captured_out"]
        # Metrics: same series, one document per name, linked from info["metrics"].
        ref_metrics = {m["name"]: m for m in reference.metrics.find({"run_id": ref["_id"]})}
        metrics = {m["name"]: m for m in pushed.metrics.find({"run_id": doc["_id"]})}
        assert set(metrics) == set(ref_metrics)
        for name, m in metrics.items():
            assert (m["steps"], m["values"]) == (
                ref_metrics[name]["steps"],
                ref_metrics[name]["values"],
            )
            assert m["timestamps"] == ref_metrics[name]["timestamps"]
        assert sorted(x["name"] for x in doc["info"]["metrics"]) == sorted(metrics)
        # Artifacts: named like MongoObserver names them, same bytes.
        fs, ref_fs = gridfs.GridFS(pushed), gridfs.GridFS(reference)
        assert [a["name"] for a in doc["artifacts"]] == [a["name"] for a in ref["artifacts"]]
        for art, ref_art in zip(doc["artifacts"], ref["artifacts"], strict=True):
            stored = fs.get(art["file_id"])
            assert stored.filename == f"artifact://runs/{doc['_id']}/{art['name']}"
            assert stored.read() == ref_fs.get(ref_art["file_id"]).read()
        for (_, file_id), (_, ref_id) in zip(
            doc["experiment"]["sources"], ref["experiment"]["sources"], strict=True
        ):
            assert fs.get(file_id).read() == ref_fs.get(ref_id).read()
            assert fs.get(file_id).filename == ref_fs.get(ref_id).filename


def test_push_twice_leaves_one_copy(world, cli, mongo_db, no_mongo_env):
    target, db = mongo_db
    cli("push", world.store, "--mongo", target)
    before = _counts(db)
    ids = sorted(d["_id"] for d in db.runs.find())
    code, out, _ = cli("push", world.store, "--mongo", target)
    assert code == 0
    assert out.splitlines()[-1] == "0 added, 0 updated, 4 unchanged, 0 already recorded (0 skipped)"
    assert _counts(db) == before and before[0] == 4
    assert sorted(d["_id"] for d in db.runs.find()) == ids == [1, 2, 3, 4]


def test_push_replaces_a_run_that_changed_since_and_keeps_its_id(
    store_copy, cli, mongo_db, no_mongo_env
):
    target, db = mongo_db
    cli("push", store_copy, "--mongo", target)
    before = _counts(db)
    mongo_id = db.runs.find_one({"meta.pushed_from.run_id": "2"})["_id"]
    with open(store_copy / "2" / "cout.txt", "a") as f:
        f.write("late output\n")
    code, out, _ = cli("push", store_copy, "--mongo", target)
    assert code == 0
    host_db = target.split("://", 1)[1]
    assert f"run 2 -> {host_db} runs/{mongo_id}: updated" in out.splitlines()
    assert _counts(db) == before
    assert db.runs.find_one({"_id": mongo_id})["captured_out"].endswith("late output\n")


def test_pushed_runs_read_back_like_the_file_store(world, cli, mongo_db, no_mongo_env):
    target, _ = mongo_db
    cli("push", world.store, "--mongo", target)
    for command in (["runs"], ["leaderboard"], ["show", "2"], ["compare", "1", "2"]):
        _, file_out, _ = cli("--store", world.store, *command)
        code, mongo_out, err = cli("--mongo", target, *command)
        assert code == 0, err
        if command[0] == "show":  # only the location line says where it was read from
            file_out = "\n".join(x for x in file_out.splitlines() if "location" not in x)
            mongo_out = "\n".join(x for x in mongo_out.splitlines() if "location" not in x)
        assert mongo_out == file_out, command


def test_push_needs_a_target(world, cli, no_mongo_env):
    code, out, err = cli("push", world.store)
    assert code == 2 and out == ""
    assert err == "reproml push: error: push needs a target: --mongo URL (or $REPROML_MONGO_URL)\n"


def test_push_leaves_runs_that_mongo_observer_recorded_live_alone(
    world, cli, mongo_db, no_mongo_env
):
    # The world's runs were recorded at once in the file store and (live) in MongoDB.
    target, copy = mongo_db
    for name in ("runs", "metrics"):
        copy[name].insert_many(list(world.db[name].find()))
    before = _counts(copy)
    code, out, _ = cli("push", world.store, "--mongo", target)
    assert code == 0
    assert out.splitlines()[-1] == "0 added, 0 updated, 0 unchanged, 4 already recorded (0 skipped)"
    assert _counts(copy) == before


def test_concurrent_pushes_never_share_an_id(world, tmp_path, new_mongo_db, no_mongo_env):
    """Two pushes of different stores at once (and a third writer claiming ids) never mix runs.

    The old push took max(_id)+1 and wrote metrics before the run document: two writers got the
    same id and one run's metric points were merged into the other's.
    """
    _, db = new_mongo_db()
    runs = FileStore(world.store).list_runs()[0]
    errors = []

    def push_all(tag: str) -> None:
        try:
            for run in runs:
                # The same runs under another key: as if pushed from a second store.
                run = type(run)(**{**run.__dict__, "run_id": f"{run.run_id}{tag}"})
                run.location = str(world.store / run.run_id[:-1])
                push_run(db, run, world.store)
        except Exception as err:  # noqa: BLE001 - reported by the assertion below
            errors.append(err)

    threads = [threading.Thread(target=push_all, args=(tag,)) for tag in "abc"]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    docs = list(db.runs.find())
    assert len(docs) == 12 and len({d["_id"] for d in docs}) == 12
    for doc in docs:  # every run's metrics are its own: one series per name, not merged
        origin = doc["meta"]["pushed_from"]["run_id"][:-1]
        ref = {m["name"]: m["values"] for m in world.db.metrics.find({"run_id": int(origin)})}
        mine = {m["name"]: m["values"] for m in db.metrics.find({"run_id": doc["_id"]})}
        assert mine == ref


def test_a_push_killed_half_way_is_redone_without_orphans(
    world, cli, mongo_db, no_mongo_env, monkeypatch
):
    target, db = mongo_db
    run = FileStore(world.store).get_run("2")
    assert run.artifacts, "run 2 has artifacts"
    # Kill the push after the first artifact was stored: the document has no digest yet.
    calls = {"n": 0}
    original = gridfs.GridFS.put

    def dying_put(self, data, **kwargs):
        file_id = original(self, data, **kwargs)
        if str(kwargs.get("filename", "")).startswith("artifact://"):
            calls["n"] += 1
            raise KeyboardInterrupt("killed")
        return file_id

    monkeypatch.setattr(gridfs.GridFS, "put", dying_put)
    with pytest.raises(KeyboardInterrupt):
        push_run(db, run, world.store)
    monkeypatch.setattr(gridfs.GridFS, "put", original)
    half = db.runs.find_one({"meta.pushed_from.key": run_key(run)})
    assert half is not None and "digest" not in half["meta"]["pushed_from"]
    assert db["fs.files"].count_documents({"filename": {"$regex": "^artifact://"}}) == 1
    code, out, err = cli("push", world.store, "--mongo", target)
    assert code == 0, err
    assert f"runs/{half['_id']}: updated" in out
    assert db.runs.count_documents({}) == 4
    artifacts = [a for d in db.runs.find() for a in d["artifacts"]]
    stored = list(db["fs.files"].find({"filename": {"$regex": "^artifact://"}}))
    assert sorted(f["_id"] for f in stored) == sorted(a["file_id"] for a in artifacts)


def test_replay_keeps_the_file_store_id_when_asked(world, mongo_db):
    _, db = mongo_db
    store = FileStore(world.store)
    for run in store.list_runs()[0]:
        outcome, mongo_id = push_run(db, run, store.root, keep_id=True)
        assert (outcome, mongo_id) == ("added", int(run.run_id))
