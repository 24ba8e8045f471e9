"""Each error is one line on stderr and exit code 2, never a traceback."""

from __future__ import annotations

import subprocess
import sys
import time

from reproml.runs import mongo


def _one_line_error(code: int, out: str, err: str, command: str) -> str:
    assert code == 2
    assert out == ""
    assert err.startswith(f"reproml {command}: error: ") and err.count("\n") == 1, err
    return err


def test_unknown_run_id_lists_the_ids_that_exist(world, cli, no_mongo_env):
    err = _one_line_error(*cli("--store", world.store, "show", "99"), "show")
    assert "no run '99'" in err and "runs there: 1, 2, 3, 4" in err
    err = _one_line_error(*cli("--store", world.store, "compare", "1", "_sources"), "compare")
    assert "no run '_sources'" in err
    err = _one_line_error(*cli("--store", world.store / "1", "show", "../2"), "show")
    assert "no run '../2'" in err
    err = _one_line_error(*cli("--mongo", world.mongo_url, "show", "99"), "show")
    assert "no run '99' in MongoDB" in err and "1, 2, 3, 4" in err


def test_empty_and_missing_stores(tmp_path, cli, no_mongo_env, mongo_db):
    (tmp_path / "empty").mkdir()
    err = _one_line_error(*cli("--store", tmp_path / "empty", "runs"), "runs")
    assert f"run store {tmp_path / 'empty'} holds no runs" in err
    err = _one_line_error(*cli("--store", tmp_path / "absent", "leaderboard"), "leaderboard")
    assert "does not exist" in err and "--store DIR or --mongo URL" in err
    url, db = mongo_db
    err = _one_line_error(*cli("--mongo", url, "runs"), "runs")
    assert f"MongoDB {url.split('://')[1]} holds no runs" in err


def test_unreachable_mongodb_fails_in_seconds_without_the_password(cli, monkeypatch):
    url = "mongodb://reader:s3cret@127.0.0.1:9/reproml"  # port 9: nothing listens
    start = time.monotonic()
    err = _one_line_error(*cli("--mongo", url, "runs"), "runs")
    elapsed = time.monotonic() - start
    assert elapsed < mongo.TIMEOUT_MS / 1000 + 5
    assert "could not reach MongoDB at 127.0.0.1:9 (from --mongo) within 3 s" in err
    assert "s3cret" not in err


def test_a_url_that_is_not_mongodb(cli):
    err = _one_line_error(*cli("--mongo", "http://example.invalid", "runs"), "runs")
    assert "is not a MongoDB URL" in err


def test_console_script_prints_no_traceback(world, tmp_path):
    # Through the real entry point, in a fresh interpreter.
    done = subprocess.run(
        [sys.executable, "-m", "reproml.cli.main", "--store", str(world.store), "show", "42"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr and done.stderr.count("\n") == 1
    assert "no run '42'" in done.stderr
    done = subprocess.run(
        [sys.executable, "-m", "reproml.cli.main", "--store", str(world.store), "runs"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0 and len(done.stdout.splitlines()) == 6
