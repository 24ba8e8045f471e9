"""The board's copy of a file-store run is its readable view (`reproml.board.readable`).

Real toy runs (a config docstring, a nested dict, a throughput metric) synced by `sync_store`
into a real MongoDB-protocol server; the file store itself is left as recorded.
"""

from __future__ import annotations

import json

import pytest

from reproml.board.database import sync_store
from reproml.runs.file_store import FileStore
from tests.board.test_cli import toy_store


@pytest.fixture
def synced(new_mongo_db, tmp_path):
    store = FileStore(toy_store(tmp_path / "runs", "lr=0.2"))
    _, db = new_mongo_db()
    sync_store(db, store)
    return store, db


def test_config_is_flat_and_without_docstrings(synced):
    store, db = synced
    recorded = json.loads((store.root / "1" / "config.json").read_text())
    assert recorded["__doc__"] == "A toy review run." and isinstance(recorded["data"], dict)
    shown = db.runs.find_one({"_id": 1})["config"]
    assert shown == {
        "data.classes": ["circle", "square"],
        "data.name": "toy_shapes",
        "fail": False,
        "hold": 0.0,
        "lr": 0.2,
        "named_result": False,
        "seed": recorded["seed"],
        "steps": 10,
    }


def test_throughput_is_left_out_of_the_plotted_metrics_and_summarised_in_info(synced):
    store, db = synced
    recorded = store.get_run("1").metrics["train.steps_per_sec"]["values"]
    assert len(recorded) == 10
    names = sorted(m["name"] for m in db.metrics.find({"run_id": 1}))
    assert names == [
        "eval.accuracy",
        "eval.precision/circle",
        "eval.precision/square",
        "train.loss",
    ]
    info = db.runs.find_one({"_id": 1})["info"]
    assert sorted(m["name"] for m in info["metrics"]) == names
    assert info["timing"] == {
        "train.steps_per_sec": {
            "last": recorded[-1],
            "mean": pytest.approx(sum(recorded) / 10),
            "count": 10,
        }
    }


def test_a_second_sync_keeps_the_view(synced):
    store, db = synced
    before = db.runs.find_one({"_id": 1})
    counts, _ = sync_store(db, store)
    assert dict(counts) == {"unchanged": 1}
    after = db.runs.find_one({"_id": 1})
    assert after["config"] == before["config"] and after["info"] == before["info"]
    assert db.metrics.count_documents({"run_id": 1}) == 4
