"""`reproml board`: its one-line errors (exit 2), and stopping leaves nothing running."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from reproml.board.database import FILE_STORE_FORMAT, sync_store
from reproml.board.omniboard import mongo_uri, start_omniboard
from reproml.board.processes import free_port
from reproml.cli.main import main
from reproml.errors import BoardError
from reproml.runs.file_store import FileStore
from reproml.runs.seal import seal_run_dir
from tests.board.board_process import BoardProcess, running_board, wait_gone
from tests.board.conftest import REPO


def toy_store(root: Path, *configs: str) -> Path:
    """A file store of toy runs (one per `with` entry, "" for the defaults)."""
    for entry in configs:
        argv = [sys.executable, "-m", "tests.board.toy_experiment", "-F", str(root)]
        argv += ["with", *entry.split()] if entry else []
        subprocess.run(argv, cwd=REPO, capture_output=True, check=False)
    return root


@pytest.fixture(scope="module")
def toys(tmp_path_factory):
    return toy_store(tmp_path_factory.mktemp("toys") / "runs", "lr=0.2", "fail=True")


def run_cli(capsys, *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    err = capsys.readouterr().err.strip()
    return code, err


@pytest.fixture
def listening():
    """A socket listening on a 127.0.0.1 port (a port in use)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    yield sock.getsockname()[1]
    sock.close()


def test_port_in_use_is_refused(capsys, toys, listening):
    code, err = run_cli(capsys, "--store", str(toys), "board", "--port", str(listening))
    assert code == 2
    assert err == (
        f"reproml board: error: port {listening} on 127.0.0.1 is in use (Address already in "
        "use): pass another --port, or omit --port to use a free one"
    )


def test_missing_node_says_what_to_install(capsys, toys, monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # no node, no npm
    code, err = run_cli(capsys, "--store", str(toys), "board")
    assert code == 2
    assert err == (
        "reproml board: error: Node.js is not installed (no `node` on PATH): install Node.js "
        ">= 18 and npm (Debian/Ubuntu: sudo apt-get install nodejs npm)"
    )


def test_old_node_is_refused(capsys, toys, monkeypatch, tmp_path):
    node = tmp_path / "node"
    node.write_text("#!/bin/sh\necho v16.20.2\n")
    node.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    code, err = run_cli(capsys, "--store", str(toys), "board")
    assert code == 2
    assert err.endswith(
        f"{node} is Node.js v16.20.2: install Node.js >= 18 and npm "
        "(Debian/Ubuntu: sudo apt-get install nodejs npm)"
    )


def test_unreachable_database(capsys):
    port = free_port()
    code, err = run_cli(capsys, "--mongo", f"mongodb://127.0.0.1:{port}/runs", "board")
    assert code == 2
    assert err.startswith(
        f"reproml board: error: could not reach MongoDB at 127.0.0.1:{port} (from --mongo)"
    )
    assert "\n" not in err


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda root: root / "absent", "does not exist (pass --store DIR or --mongo URL)"),
        (lambda root: root, "holds no runs"),
    ],
)
def test_missing_or_empty_store(capsys, tmp_path, make, expected):
    code, err = run_cli(capsys, "--store", str(make(tmp_path)), "board")
    assert code == 2 and err.endswith(expected)


def test_missing_secantus_says_what_to_install(capsys, toys, monkeypatch, tmp_path):
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))
    monkeypatch.setenv("PATH", str(tmp_path))
    code, err = run_cli(capsys, "--store", str(toys), "board")
    assert code == 2
    assert "secantusd-py (SecantusDB, GPL-2.0) is not installed" in err
    assert "pip install -c constraints.txt -e '.[board]'" in err


def test_mongo_uri_names_the_database():
    assert mongo_uri("mongodb://u:p@h:1,h2:2/?authSource=admin", "runs") == (
        "mongodb://u:p@h:1,h2:2/runs?authSource=admin"
    )
    assert mongo_uri("mongodb://h:1/other", "runs") == "mongodb://h:1/runs"


def test_sync_store_mirrors_the_file_store(new_mongo_db, tmp_path):
    """Pushed with their ids; unchanged runs skipped; runs gone from the store removed."""
    store = toy_store(tmp_path / "runs", "lr=0.3", "", "fail=True")
    _, db = new_mongo_db()
    counts, warnings = sync_store(db, FileStore(store))
    assert dict(counts) == {"added": 3} and warnings == []
    assert sorted(d["_id"] for d in db.runs.find()) == [1, 2, 3]
    assert db.runs.find_one({"_id": 3})["status"] == "FAILED"
    # Omniboard's "Format" column names the file store, not the MongoObserver that copied them.
    assert {d["format"] for d in db.runs.find()} == {FILE_STORE_FORMAT}
    import shutil

    shutil.rmtree(store / "2")
    counts, _ = sync_store(db, FileStore(store))
    assert dict(counts) == {"removed": 1, "unchanged": 2}
    assert sorted(d["_id"] for d in db.runs.find()) == [1, 3]
    assert db.metrics.count_documents({"run_id": 2}) == 0
    assert {d["format"] for d in db.runs.find()} == {FILE_STORE_FORMAT}


def test_sync_store_leaves_out_a_tampered_run_and_one_with_an_unsafe_name(
    new_mongo_db, toys, tmp_path
):
    """One warning line names both; the other run is shown; an earlier copy of them is removed."""
    store = tmp_path / "runs"
    shutil.copytree(toys, store)
    toy_store(store, "lr=0.5")
    for run in "123":
        seal_run_dir(store / run)
    _, db = new_mongo_db()
    counts, warnings = sync_store(db, FileStore(store))
    assert dict(counts) == {"added": 3} and warnings == []
    metrics = json.loads((store / "1" / "metrics.json").read_text())
    metrics["eval.accuracy"]["values"][-1] = 0.5
    (store / "1" / "metrics.json").write_text(json.dumps(metrics))
    entry = json.loads((store / "3" / "run.json").read_text())
    entry["artifacts"].append("../../outside.txt")
    (store / "3" / "run.json").write_text(json.dumps(entry))
    counts, warnings = sync_store(db, FileStore(store))
    assert dict(counts) == {"unchanged": 1, "removed": 2}
    assert [d["_id"] for d in db.runs.find()] == [2]
    assert len(warnings) == 1 and warnings[0].startswith("not shown, 2 run(s): ")
    assert (
        "run 1 not pushed, it does not match its seal: TAMPERED: metrics.json changed"
        in warnings[0]
    )
    assert "run 3: run.json artifact '../../outside.txt'" in warnings[0]


def test_omniboard_refuses_a_port_taken_after_the_check(omniboard_script, listening, tmp_path):
    with pytest.raises(
        BoardError,
        match=rf"^Omniboard failed before it was listening: Port {listening} is already in use: pass another --port, or omit --port$",
    ):
        start_omniboard(omniboard_script, "mongodb://127.0.0.1:1/x", listening, tmp_path)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_stop_leaves_nothing_running(toys, omniboard_script, tmp_path, sig):
    """Ctrl-C (SIGINT) or SIGTERM: exit 0, the database server and Omniboard are gone."""
    board = BoardProcess(["--store", str(toys), "board"], tmp_path / "err")
    board.wait_ready()
    children = board.child_pids()
    assert len(children) == 2, children  # secantusd-py and Omniboard
    assert board.stop(sig) == 0, board.stderr()
    assert wait_gone(children, timeout=1) == []
    assert "stopping" in board.stderr()


def test_children_die_with_a_killed_board(toys, omniboard_script, tmp_path):
    """Even a SIGKILLed ``reproml board`` leaves no server behind (Linux: parent-death signal)."""
    if not sys.platform.startswith("linux"):
        pytest.skip("the parent-death signal is Linux only")
    board = BoardProcess(["--store", str(toys), "board"], tmp_path / "err")
    board.wait_ready()
    children = board.child_pids()
    board.stop(signal.SIGKILL)
    assert wait_gone(children, timeout=20) == []


def test_second_start_finds_the_runs_unchanged(toys, omniboard_script, tmp_path):
    """A second board on the same store finds its runs unchanged (idempotent push).

    The second start names the store by a relative path, as `make demo-screenshot` does.
    """
    with running_board(["--store", str(toys), "board"], tmp_path / "1"):
        pass
    with running_board(["--store", toys.name, "board"], tmp_path / "2", cwd=toys.parent):
        assert os.path.exists(toys / ".board" / "db")
    assert "(2 unchanged)" in (tmp_path / "2").read_text()
