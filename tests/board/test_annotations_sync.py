"""Tags and notes edited in the board's database go back into the file store's omniboard.json.

Omniboard saves an edit as ``$set`` of ``omniboard.tags`` / ``omniboard.notes`` (its PUT
``/api/v1/Runs/:id`` flattens the body with ``moredots``); these tests make the same update
on a real MongoDB-protocol server, then check what `pull_annotations` / `sync_store` do.
"""

from __future__ import annotations

import json

import pytest

from reproml.board.database import pull_annotations, sync_store
from reproml.runs.annotations import annotate
from reproml.runs.file_store import FileStore
from tests.board.test_cli import toy_store


@pytest.fixture
def synced(new_mongo_db, tmp_path):
    """Two toy runs (run 1 tagged ``best``) synced into a database of their own."""
    store = FileStore(toy_store(tmp_path / "runs", "lr=0.2", "lr=0.3"))
    annotate(store, store.get_run("1"), add=["best"], notes="first")
    _, db = new_mongo_db()
    counts, _ = sync_store(db, store)
    assert dict(counts) == {"added": 2}
    return store, db


def edit_in_omniboard(db, run_id: int, **fields) -> None:
    """What Omniboard's tags/notes cells save: ``$set`` of ``omniboard.<field>``."""
    db.runs.update_one({"_id": run_id}, {"$set": {f"omniboard.{k}": v for k, v in fields.items()}})


def stored(store, run_id: str) -> dict:
    return json.loads((store.root / run_id / "omniboard.json").read_text())


def test_push_records_the_annotations_it_pushed(synced):
    _, db = synced
    assert db.runs.find_one({"_id": 1})["meta"]["pushed_from"]["annotations"] == {
        "tags": ["best"],
        "notes": "first",
    }
    assert db.runs.find_one({"_id": 2})["meta"]["pushed_from"]["annotations"] == {
        "tags": [],
        "notes": "",
    }


def test_nothing_edited_nothing_written(synced):
    store, db = synced
    assert pull_annotations(db, store) == []
    assert not (store.root / "2" / "omniboard.json").exists()
    counts, _ = sync_store(db, store)
    assert dict(counts) == {"unchanged": 2}


def test_board_edits_are_written_back_and_the_runs_stay_unchanged(synced):
    store, db = synced
    edit_in_omniboard(db, 1, tags=["best", "keeper"])
    edit_in_omniboard(db, 2, notes="rerun with 2000 steps")
    lines = pull_annotations(db, store)
    assert lines == [
        f"run 1: tags best, keeper, note first (edited in the board) saved to "
        f"{store.root / '1' / 'omniboard.json'}",
        f"run 2: tags -, note rerun with 2000 steps (edited in the board) saved to "
        f"{store.root / '2' / 'omniboard.json'}",
    ]
    assert stored(store, "1") == {"tags": ["best", "keeper"], "notes": "first"}
    assert stored(store, "2") == {"tags": [], "notes": "rerun with 2000 steps"}
    assert pull_annotations(db, store) == []  # written once
    said = []
    counts, _ = sync_store(db, store, said.append)
    assert dict(counts) == {"unchanged": 2} and said == []  # no push again
    assert db.runs.find_one({"_id": 1})["omniboard"]["tags"] == ["best", "keeper"]


def test_a_run_changed_since_the_push_gets_the_edit_and_is_pushed_again(synced):
    store, db = synced
    with open(store.root / "2" / "cout.txt", "a", encoding="utf-8") as out:
        out.write("more output\n")  # e.g. a RUNNING run's heartbeat
    edit_in_omniboard(db, 2, tags=["keeper"])
    counts, _ = sync_store(db, store)
    assert dict(counts) == {"unchanged": 1, "updated": 1}
    assert stored(store, "2") == {"tags": ["keeper"], "notes": ""}
    assert db.runs.find_one({"_id": 2})["omniboard"]["tags"] == ["keeper"]


def test_edited_in_both_places_keeps_the_store_and_says_so(synced):
    store, db = synced
    edit_in_omniboard(db, 1, tags=["from-board"])
    annotate(store, store.get_run("1"), remove=["best"], add=["from-cli"])
    said = []
    counts, _ = sync_store(db, store, said.append)
    assert said == [
        "run 1: tags/note changed both in the board ({'tags': ['from-board'], 'notes': 'first'}) "
        f"and in {store.root / '1' / 'omniboard.json'} ({{'tags': ['from-cli'], 'notes': "
        "'first'}); kept the store's"
    ]
    assert stored(store, "1") == {"tags": ["from-cli"], "notes": "first"}
    assert dict(counts) == {"unchanged": 1, "updated": 1}
    assert db.runs.find_one({"_id": 1})["omniboard"]["tags"] == ["from-cli"]
