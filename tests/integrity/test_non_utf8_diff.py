"""A diff holding bytes that are not UTF-8 (a Latin-1 file) is recorded byte for byte, the run
completes, and the unchanged checkout is accepted by reproduce's code check."""

from __future__ import annotations

import json

from reproml.runs.file_store import FileStore
from reproml.runs.reproduce import code_problems
from tests.integrity.project import git


def test_latin1_diff_is_recorded_byte_for_byte_and_the_same_checkout_is_accepted(recorded):
    record = recorded.run_json("1")
    assert record["status"] == "COMPLETED"
    info = json.loads((recorded.runs / "1" / "info.json").read_text())
    assert info["code"]["dirty"] is True
    assert info["code"]["diff_artifact"] == "code.diff"
    assert "code.diff" in record["artifacts"]
    stored = (recorded.runs / "1" / "code.diff").read_bytes()
    expected = git(recorded.repo, "diff", "HEAD", "--binary")
    assert stored == expected
    assert "brûlée".encode("latin-1") in stored  # the Latin-1 bytes themselves, not replaced
    store = FileStore(recorded.runs)
    assert code_problems(store.get_run("1"), store, recorded.repo) == []
