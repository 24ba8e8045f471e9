"""Fault: a run directory whose run.json (or another record file) is corrupt.

Listing commands name each bad run in one warning line and go on with the others; commands
on that one run fail with one line naming the file.
"""

from __future__ import annotations

import json

import pytest

from tests.cli.conftest import cli, no_mongo_env, store_copy, world  # noqa: F401 (fixtures)

CORRUPTIONS = {
    # what a crash half-way through writing run.json leaves
    "truncated run.json": ("run.json", lambda text: text[: len(text) // 2]),
    "empty run.json": ("run.json", lambda text: ""),
    "run.json not an object": ("run.json", lambda text: "[1, 2, 3]"),
    "run.json not a Sacred run": ("run.json", lambda text: json.dumps({"hello": 1})),
    "binary garbage in run.json": ("run.json", None),
    "truncated config.json": ("config.json", lambda text: text[:10]),
    "truncated metrics.json": ("metrics.json", lambda text: text[:-5]),
}


def _corrupt(store, run_id, case):
    name, damage = CORRUPTIONS[case]
    path = store / run_id / name
    if damage is None:
        path.write_bytes(b"\xff\xfe\x00garbage")
    else:
        path.write_text(damage(path.read_text()))
    return path


@pytest.mark.parametrize("case", sorted(CORRUPTIONS))
def test_listing_warns_once_and_lists_the_other_runs(store_copy, cli, case):  # noqa: F811
    path = _corrupt(store_copy, "2", case)
    for command in ("runs", "leaderboard"):
        code, out, err = cli("--store", store_copy, command)
        assert code == 0, err
        assert [line.split()[0] for line in out.splitlines()[2:]] == ["1", "3", "4"]
        assert err.count("\n") == 1
        assert err.startswith("warning: skipping corrupt run 2: ") and str(path) in err


def test_a_missing_run_json_is_named_too(store_copy, cli):  # noqa: F811
    (store_copy / "3" / "run.json").unlink()
    code, out, err = cli("--store", store_copy, "runs")
    assert code == 0
    assert [line.split()[0] for line in out.splitlines()[2:]] == ["1", "2", "4"]
    assert (
        err == f"warning: skipping corrupt run 3: {store_copy / '3' / 'run.json'}: is missing. "
        "Repair or move away that run directory\n"
    )


def test_commands_on_the_corrupt_run_fail_with_one_line(store_copy, cli):  # noqa: F811
    path = _corrupt(store_copy, "2", "truncated run.json")
    for args in (["show", "2"], ["compare", "1", "2"], ["reproduce", "2"]):
        code, out, err = cli("--store", store_copy, *args)
        assert code == 2 and out == ""
        assert err.count("\n") == 1 and str(path) in err and "is not valid JSON" in err
    code, _, _ = cli("--store", store_copy, "show", "1")
    assert code == 0  # the others still work


def test_push_skips_the_corrupt_run_and_pushes_the_rest(store_copy, cli, mongo_db, no_mongo_env):  # noqa: F811
    _corrupt(store_copy, "4", "truncated run.json")
    url, db = mongo_db
    code, out, err = cli("push", store_copy, "--mongo", url)
    assert code == 0
    assert err.startswith("warning: skipping corrupt run 4: ")
    assert out.splitlines()[-1] == "3 added, 0 updated, 0 unchanged, 0 already recorded (1 skipped)"
    assert sorted(d["meta"]["pushed_from"]["run_id"] for d in db.runs.find()) == ["1", "2", "3"]


def test_a_store_of_only_corrupt_runs_warns_then_shows_an_empty_table(store_copy, cli):  # noqa: F811
    for run_id in ("1", "2", "3", "4"):
        _corrupt(store_copy, run_id, "empty run.json")
    code, out, err = cli("--store", store_copy, "runs")
    assert code == 0 and len(out.splitlines()) == 2  # header and rule only
    assert err.count("\n") == 4
