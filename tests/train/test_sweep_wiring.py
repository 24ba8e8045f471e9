"""A sweep trial's report and pruning are wired by the training loop, once.

A real Optuna study in a journal file (as `reproml sweep` makes it) and a trial asked from it;
the three environment variables `reproml sweep` sets for a trial's process; the tiny job of
`tests.train.tiny` trained 6 steps with an evaluation every 2.
"""

from __future__ import annotations

import warnings

import pytest

from reproml.sweep.study import SweepSpec, create_or_resume
from reproml.sweep.trial import ENV_ID, ENV_STORAGE, ENV_TRIAL, sweep_tag, sweep_trial_callback
from reproml.train.loop import train_and_evaluate
from tests.train.tiny import FakeRun, estimator, input_fn


@pytest.fixture
def trial(tmp_path, monkeypatch):
    """A trial of a new sweep minimizing ``loss`` (no pruner), joined by this process."""
    monkeypatch.delenv("TF_CONFIG", raising=False)
    location = str(tmp_path / "s.journal")
    spec = SweepSpec("s1", "exp", [], 2, metric="loss", direction="minimize", pruner="none")
    study = create_or_resume(spec, location)
    asked = study.ask()
    monkeypatch.setenv(ENV_ID, "s1")
    monkeypatch.setenv(ENV_STORAGE, location)
    monkeypatch.setenv(ENV_TRIAL, str(asked._trial_id))
    return study, asked.number


def _train(run, after_evaluation=None):
    """Train the tiny job for `run`; return the warnings of a step reported twice."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        train_and_evaluate(
            run, estimator(run.artifacts / "model"), input_fn(True), input_fn(False),
            steps=6, eval_every=2, log_every=3, after_evaluation=after_evaluation,
        )  # fmt: skip
    return [w for w in caught if "already reported" in str(w.message)]


def _reported(study, number):
    return study.trials[number].intermediate_values


def test_the_loop_reports_every_evaluation_to_the_trial_without_the_experiment_asking(
    tmp_path, trial
):
    study, number = trial
    seen = []
    run = FakeRun(tmp_path / "a")
    twice = _train(run, after_evaluation=lambda step, m: seen.append(step))
    assert seen == [2, 4, 6]  # the experiment's own callback still runs
    assert sorted(_reported(study, number)) == [2, 4, 6]
    losses = {s: v for n, v, s in run.scalars if n == "eval.loss"}
    assert _reported(study, number) == pytest.approx(losses)
    assert run.info["sweep"] == {"id": "s1", "trial": number, "params": {}}
    assert sweep_tag("s1") == "sweep:s1" and twice == []


@pytest.mark.parametrize("wiring", ["as_is", "inside_a_wrapper"])
def test_an_old_experiment_passing_sweep_trial_callback_reports_once(tmp_path, trial, wiring):
    study, number = trial
    run = FakeRun(tmp_path / "b")  # the run the experiment's main gets
    callback = sweep_trial_callback(run)
    if wiring == "inside_a_wrapper":
        mine = []

        def after_evaluation(step, metrics):
            mine.append(step)
            return callback(step, metrics)
    else:
        after_evaluation = callback
    assert _train(run, after_evaluation) == []  # the loop recognizes the run's one report
    assert sorted(_reported(study, number)) == [2, 4, 6]
