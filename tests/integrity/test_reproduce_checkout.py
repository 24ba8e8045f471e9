"""`reproml reproduce` checks and re-runs the code the run actually ran: the content of every
file it imported (tracked or not), in the checkout it recorded (whatever the working
directory), ignores files that are not code, and compares an INTERRUPTED run up to its step."""

from __future__ import annotations

import contextlib
import json
import shutil
import signal
from pathlib import Path

from tests.integrity.project import git, make_project


def _run_ids(runs: Path) -> set[str]:
    return {p.name for p in runs.iterdir() if p.name.isdigit()}


@contextlib.contextmanager
def _changed(path: Path, old: str, new: str):
    """`path` with `old` replaced by `new` meanwhile."""
    original = path.read_text()
    assert old in original
    path.write_text(original.replace(old, new))
    try:
        yield
    finally:
        path.write_text(original)


def test_changed_untracked_imported_module_is_refused_naming_it(recorded, tmp_path):
    helpers = recorded.repo / "helpers.py"
    assert git(recorded.repo, "ls-files", "helpers.py") == b""  # imported, but not tracked
    before = _run_ids(recorded.runs)
    with _changed(helpers, "loss * 0.8", "loss * 0.7"):
        proc = recorded.reproml("reproduce", "1", cwd=tmp_path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    message = proc.stderr.strip().splitlines()[-1]
    assert "refusing to reproduce run 1" in message
    assert "files the run depended on differ: helpers.py" in message
    assert f"checked the checkout {recorded.repo}" in message
    assert _run_ids(recorded.runs) == before  # nothing was re-run


def test_stray_csv_does_not_block_and_the_recorded_checkout_is_used_from_another_cwd(
    recorded, tmp_path
):
    csv = recorded.repo / "leaderboard.csv"
    board = recorded.reproml("leaderboard", "--csv", str(csv))
    assert board.returncode == 0, board.stderr
    assert git(recorded.repo, "status", "--porcelain", "leaderboard.csv").startswith(b"??")
    # Another checkout of the project, whose helpers differ: reproduce is run from there.
    other = tmp_path / "other"
    git(tmp_path, "clone", "-q", str(recorded.repo), str(other))
    shutil.copy(recorded.repo / "helpers.py", other / "helpers.py")
    with _changed(other / "helpers.py", "loss * 0.8", "loss * 0.7"):
        proc = recorded.reproml("reproduce", "1", cwd=other)
    csv.unlink()
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"code: the checkout {recorded.repo}" in proc.stdout.splitlines()
    assert proc.stdout.splitlines()[-1] == "run 1 reproduced exactly"
    new_id = proc.stdout.split(" as run ", 1)[1].split()[0]
    info = json.loads((recorded.runs / new_id / "info.json").read_text())
    assert info["reproduces"] == "1"
    assert info["code"]["repo"] == str(recorded.repo)
    sources = dict(recorded.run_json(new_id)["experiment"]["sources"])
    assert (recorded.runs / sources["helpers.py"]).read_bytes() == (
        recorded.repo / "helpers.py"
    ).read_bytes()


def test_interrupted_run_is_reproduced_up_to_the_step_it_reached(tmp_path):
    project = make_project(tmp_path)
    proc = project.run_until(
        "step 3",
        signal.SIGINT,
        "with",
        f"record_dir={project.record_dir}",
        "steps=500",
        "sleep=0.2",
    )
    assert proc.returncode != 0
    original = project.run_json("1")
    assert original["status"] == "INTERRUPTED", proc.stderr
    info = json.loads((project.runs / "1" / "info.json").read_text())
    reached = info["stopped_at_step"]
    metrics = json.loads((project.runs / "1" / "metrics.json").read_text())
    assert metrics["train.loss"]["steps"] == list(range(1, reached + 1))

    repro = project.reproml("reproduce", "1", cwd=tmp_path)
    assert repro.returncode == 0, repro.stdout + repro.stderr
    lines = repro.stdout.splitlines()
    assert lines[0] == (
        f"run 1 is INTERRUPTED: it stopped at step {reached} (its config says steps=500); "
        f"re-running to step {reached} and comparing the steps it logged"
    )
    assert "did NOT reproduce" not in repro.stdout
    assert lines[-1] == f"run 1 reproduced exactly up to step {reached}"
    assert "not compared (original INTERRUPTED)" in repro.stdout
    new_id = repro.stdout.split(" as run ", 1)[1].split()[0]
    assert json.loads((project.runs / new_id / "config.json").read_text())["steps"] == reached
    new_metrics = json.loads((project.runs / new_id / "metrics.json").read_text())
    assert new_metrics["train.loss"]["values"] == metrics["train.loss"]["values"]
