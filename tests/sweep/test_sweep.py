"""A 6-trial sweep with 2 workers on the digits fallback: killed mid-way, resumed, tagged."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from tests.quick_runs import ROOT, run_cli

pytestmark = pytest.mark.slow
SWEEP = [
    "sweep", "experiments.mnist", "quick", "steps=10", "eval_every=5", "export_savedmodel=False",
    "lr=loguniform(1e-4,1e-2)", "dropout=0.2,0.4", "--trials", "6", "--workers", "2",
    "--sampler", "random", "--id", "s6",
]  # fmt: skip


def _finished(journal):
    """Trial numbers the journal records as finished (COMPLETE or PRUNED)."""
    import optuna

    from reproml.sweep.study import load_sweep

    _, study = load_sweep("s6", str(journal))
    states = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
    return study, {t.number for t in study.get_trials(states=states)}


def test_sweep_resumes_without_redoing_finished_trials(tmp_path, mongo_db, quick_data_dir):
    url, db = mongo_db
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "REPROML_MONGO_URL": url,
        "REPROML_RUNS_DIR": str(tmp_path / "runs"),
    }
    words = [*SWEEP[:3], f"dataset.data_dir={quick_data_dir}", *SWEEP[3:]]
    first = subprocess.Popen(
        [sys.executable, "-m", "reproml.cli.main", *words],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group: killed as a whole, like a crash
    )
    journal = tmp_path / "sweeps" / "s6.journal"
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        if journal.is_file() and len(_finished(journal)[1]) >= 2:
            break
        assert first.poll() is None, first.stdout.read()
        time.sleep(2)
    os.killpg(first.pid, signal.SIGKILL)
    first.wait()
    study, before = _finished(journal)
    assert 2 <= len(before) < 6
    runs_before = {t.number: t.user_attrs["run_id"] for t in study.trials if t.number in before}

    resumed = run_cli(*words[:1], "resume", "s6", cwd=tmp_path, env=env)
    assert "sweep s6: 6 of 6 trials finished" in resumed.stdout
    study, after = _finished(journal)
    assert len(after) == 6 and before <= after
    for t in study.trials:  # finished trials kept their runs: nothing was run twice
        if t.number in runs_before:
            assert t.user_attrs["run_id"] == runs_before[t.number]
    finished_runs = {t.user_attrs["run_id"] for t in study.trials if t.number in after}
    assert len(finished_runs) == 6
    assert (tmp_path / "sweeps" / "s6" / "parallel_coordinates.png").read_bytes()[:4] == b"\x89PNG"

    board = run_cli("leaderboard", "--tag", "sweep:s6", "--csv", "lb.csv", cwd=tmp_path, env=env)
    assert board.stdout.count("sweep:s6") >= 6
    for run_id in finished_runs:  # the file store
        info = json.loads((tmp_path / "runs" / run_id / "info.json").read_text())
        assert info["sweep"]["id"] == "s6"
        tags = json.loads((tmp_path / "runs" / run_id / "omniboard.json").read_text())["tags"]
        assert tags == ["sweep:s6"]
    # MongoDB, where Omniboard reads its tags
    tagged = list(db.runs.find({"omniboard.tags": "sweep:s6", "status": "COMPLETED"}))
    assert len(tagged) >= 6
    shown = run_cli("sweep", "show", "s6", cwd=tmp_path, env=env).stdout
    best = study.best_trial
    assert shown.splitlines()[3].split()[:3] == ["1", str(best.number), "COMPLETE"]
