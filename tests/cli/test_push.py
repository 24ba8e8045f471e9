from __future__ import annotations

import gridfs

TARGET = "mongodb://push-target.invalid:27017/pushed"


def _counts(db) -> tuple[int, int, int]:
    return (
        db.runs.count_documents({}),
        db.metrics.count_documents({}),
        db["fs.files"].count_documents({}),
    )


def test_push_writes_the_layout_mongo_observer_writes(world, cli, use_mongo):
    code, out, err = cli("push", world.store, "--mongo", TARGET)
    assert code == 0, err
    assert out.splitlines()[-1] == "4 added, 0 updated, 0 unchanged, 0 already recorded (0 skipped)"
    pushed, reference = use_mongo[TARGET]["pushed"], world.db  # reference: MongoObserver's own
    assert pushed.runs.count_documents({}) == 4
    for ref in reference.runs.find():
        doc = pushed.runs.find_one({"pushed_from.run_id": str(ref["_id"])})
        assert set(doc) == set(ref) | {"pushed_from"}
        for field in ("status", "result", "config", "command", "host", "meta", "format"):
            assert doc[field] == ref[field], field
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


def test_push_twice_leaves_one_copy(world, cli, use_mongo):
    cli("push", world.store, "--mongo", TARGET)
    db = use_mongo[TARGET]["pushed"]
    before = _counts(db)
    ids = sorted(d["_id"] for d in db.runs.find())
    code, out, _ = cli("push", world.store, "--mongo", TARGET)
    assert code == 0
    assert out.splitlines()[-1] == "0 added, 0 updated, 4 unchanged, 0 already recorded (0 skipped)"
    assert _counts(db) == before and before[0] == 4
    assert sorted(d["_id"] for d in db.runs.find()) == ids == [1, 2, 3, 4]


def test_push_replaces_a_run_that_changed_since_and_keeps_its_id(store_copy, cli, use_mongo):
    cli("push", store_copy, "--mongo", TARGET)
    db = use_mongo[TARGET]["pushed"]
    before = _counts(db)
    mongo_id = db.runs.find_one({"pushed_from.run_id": "2"})["_id"]
    with open(store_copy / "2" / "cout.txt", "a") as f:
        f.write("late output\n")
    code, out, _ = cli("push", store_copy, "--mongo", TARGET)
    assert code == 0
    assert f"run 2 -> {TARGET} runs/{mongo_id}: updated" in out.splitlines()
    assert _counts(db) == before
    assert db.runs.find_one({"_id": mongo_id})["captured_out"].endswith("late output\n")


def test_pushed_runs_read_back_like_the_file_store(world, cli, use_mongo):
    cli("push", world.store, "--mongo", TARGET)
    for command in (["runs"], ["leaderboard"], ["show", "2"], ["compare", "1", "2"]):
        _, file_out, _ = cli("--store", world.store, *command)
        code, mongo_out, err = cli("--mongo", TARGET, *command)
        assert code == 0, err
        if command[0] == "show":  # only the location line says where it was read from
            file_out = "\n".join(x for x in file_out.splitlines() if "location" not in x)
            mongo_out = "\n".join(x for x in mongo_out.splitlines() if "location" not in x)
        assert mongo_out == file_out, command


def test_push_needs_a_target(world, cli, use_mongo):
    code, out, err = cli("push", world.store)
    assert code == 2 and out == ""
    assert err == "reproml push: error: push needs a target: --mongo URL (or $REPROML_MONGO_URL)\n"


def test_push_leaves_runs_that_mongo_observer_recorded_live_alone(world, cli, use_mongo):
    # The world's runs were recorded at once in the file store and (live) in MongoDB.
    client = use_mongo["mongodb://copy.invalid/reproml"] = type(world.client)()
    for name in ("runs", "metrics"):
        client["reproml"][name].insert_many(list(world.db[name].find()))
    before = _counts(client["reproml"])
    code, out, _ = cli("push", world.store, "--mongo", "mongodb://copy.invalid/reproml")
    assert code == 0
    assert out.splitlines()[-1] == "0 added, 0 updated, 0 unchanged, 4 already recorded (0 skipped)"
    assert _counts(client["reproml"]) == before
