"""A run killed by the OS (SIGKILL) cannot record its end: it stays RUNNING in its record, and
``reproml runs`` / ``show`` call it PROBABLY_DEAD once its heartbeat is older than 120 s."""

from __future__ import annotations

import datetime as dt
import json
import signal

from reproml.runs.file_store import FileStore
from tests.integrity.project import make_project


def _status_of(output: str, run_id: str) -> str:
    """The status column of `run_id` in ``reproml runs`` output."""
    for line in output.splitlines():
        cells = line.split()
        if cells and cells[0] == run_id:
            return cells[2]
    raise AssertionError(f"run {run_id} not listed:\n{output}")


def _set_heartbeat(run_json, seconds_ago: float) -> None:
    record = json.loads(run_json.read_text())
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    record["start_time"] = (now - dt.timedelta(seconds=seconds_ago + 30)).isoformat()
    record["heartbeat"] = (now - dt.timedelta(seconds=seconds_ago)).isoformat()
    run_json.write_text(json.dumps(record))


def test_sigkilled_run_stays_running_and_is_shown_probably_dead_once_silent(tmp_path):
    project = make_project(tmp_path)
    proc = project.run_until("step 2", signal.SIGKILL, "with", "steps=500", "sleep=0.2")
    assert proc.returncode == -signal.SIGKILL
    run_json = project.runs / "1" / "run.json"
    assert json.loads(run_json.read_text())["status"] == "RUNNING"  # nothing could say otherwise

    # Just killed: its last sign of life is seconds old, so it is shown as what it says.
    listed = project.reproml("runs")
    assert listed.returncode == 0, listed.stderr
    assert _status_of(listed.stdout, "1") == "RUNNING"

    # Silent for 119 s: still RUNNING (Sacred beats every 10 s); for 121 s: probably dead.
    _set_heartbeat(run_json, 119)
    assert FileStore(project.runs).get_run("1").shown_status == "RUNNING"
    _set_heartbeat(run_json, 121)
    assert FileStore(project.runs).get_run("1").shown_status == "PROBABLY_DEAD"

    _set_heartbeat(run_json, 600)
    listed = project.reproml("runs")
    assert _status_of(listed.stdout, "1") == "PROBABLY_DEAD", listed.stdout
    shown = project.reproml("show", "1")
    assert shown.returncode == 0, shown.stderr
    assert "PROBABLY_DEAD" in next(line for line in shown.stdout.splitlines() if "status" in line)
    assert json.loads(run_json.read_text())["status"] == "RUNNING"  # shown, never rewritten
    only_dead = project.reproml("runs", "--status", "PROBABLY_DEAD")
    assert _status_of(only_dead.stdout, "1") == "PROBABLY_DEAD"
