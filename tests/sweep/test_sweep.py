"""A 4-trial sweep with 2 workers on the digits fallback: killed mid-way, resumed, tagged.

Killed once 2 trials are finished, while the 2 workers run the other 2: the resume runs those
again (they were cut short) and never a finished one. Each trial is a whole process (~18 CPU
seconds, mostly start-up), so the trial count sets the test's time.
"""

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
    "lr=loguniform(1e-4,1e-2)", "dropout=0.2,0.4", "--trials", "4", "--workers", "2",
    "--sampler", "random", "--id", "s4",
]  # fmt: skip


def _finished(journal):
    """Trial numbers the journal records as finished (COMPLETE or PRUNED)."""
    import optuna

    from reproml.sweep.study import load_sweep

    _, study = load_sweep("s4", str(journal))
    states = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
    return study, {t.number for t in study.get_trials(states=states)}


def _running(study):
    """``{number: params}`` of the trials the journal records as RUNNING."""
    import optuna

    return {t.number: t.params for t in study.get_trials(states=(optuna.trial.TrialState.RUNNING,))}


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
    journal = tmp_path / "sweeps" / "s4.journal"
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        if journal.is_file():
            study, finished = _finished(journal)
            if len(finished) >= 2 and _running(study):  # 2 done, the next ones under way
                break
        assert first.poll() is None, first.stdout.read()
        time.sleep(2)
    os.killpg(first.pid, signal.SIGKILL)
    first.wait()
    study, before = _finished(journal)
    assert 2 <= len(before) < 4
    runs_before = {t.number: t.user_attrs["run_id"] for t in study.trials if t.number in before}
    cut_short = _running(study)
    assert cut_short

    resumed = run_cli(*words[:1], "resume", "s4", cwd=tmp_path, env=env)
    assert "sweep s4: 4 of 4 trials finished" in resumed.stdout
    study, after = _finished(journal)
    assert len(after) == 4 and before <= after
    for t in study.trials:  # finished trials kept their runs: nothing was run twice
        if t.number in runs_before:
            assert t.user_attrs["run_id"] == runs_before[t.number]
    retried = {t.user_attrs["retry_of"]: t for t in study.trials if "retry_of" in t.user_attrs}
    assert sorted(retried) == sorted(cut_short)  # each trial cut short ran again, once
    for number, params in cut_short.items():
        assert study.trials[number].state.name == "FAIL"
        assert retried[number].params == params and retried[number].number in after
    finished_runs = {t.user_attrs["run_id"] for t in study.trials if t.number in after}
    assert len(finished_runs) == 4
    assert (tmp_path / "sweeps" / "s4" / "parallel_coordinates.png").read_bytes()[:4] == b"\x89PNG"

    board = run_cli("leaderboard", "--tag", "sweep:s4", "--csv", "lb.csv", cwd=tmp_path, env=env)
    assert board.stdout.count("sweep:s4") >= 4
    for run_id in finished_runs:  # the file store
        info = json.loads((tmp_path / "runs" / run_id / "info.json").read_text())
        assert info["sweep"]["id"] == "s4"
        tags = json.loads((tmp_path / "runs" / run_id / "omniboard.json").read_text())["tags"]
        assert tags == ["sweep:s4"]
    # MongoDB, where Omniboard reads its tags
    tagged = list(db.runs.find({"omniboard.tags": "sweep:s4", "status": "COMPLETED"}))
    assert len(tagged) >= 4
    shown = run_cli("sweep", "show", "s4", cwd=tmp_path, env=env).stdout
    best = study.best_trial
    assert shown.splitlines()[3].split()[:3] == ["1", str(best.number), "COMPLETE"]
