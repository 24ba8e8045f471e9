"""Inside one trial's run: tag it with its sweep, and report each evaluation to the study.

`reproml sweep` starts every trial as ``python -m MODULE with ...`` or ``python FILE with ...``
with three environment variables naming its study and trial. Every tracked experiment joins its
trial by itself: the tracking pre-run hook calls `start_sweep_trial`, and the training loop
(`reproml.train.loop.train_and_evaluate`) adds the trial's report to its ``after_evaluation``
(`with_sweep_trial`); an experiment writes nothing for it. Outside a sweep nothing changes.
In a sweep it

* records ``info["sweep"] = {"id", "trial", "params"}`` and tags the run ``sweep:<id>`` in every
  store it records to (``omniboard.tags`` in MongoDB, ``omniboard.json`` in the file store);
* tells the study where the run is (trial user attributes ``run_id`` and ``run_dir``);
* reports the sweep's metric after each evaluation and stops training when the study's pruner
  prunes the trial (``info["sweep"]["pruned_at_step"]``; the run still completes).
"""

from __future__ import annotations

import os
import weakref
from collections.abc import Callable
from typing import Any

from reproml.errors import ConfigError
from reproml.models.scalar_metrics import scalar_metrics
from reproml.runs.annotations import tag_live_run
from reproml.sacred_internals import run_id
from reproml.sweep.study import load_sweep

ENV_STORAGE = "REPROML_SWEEP_STORAGE"
ENV_ID = "REPROML_SWEEP_ID"
ENV_TRIAL = "REPROML_SWEEP_TRIAL_ID"
# The trial's report of each run, made once per run (the pre-run hook or the first caller).
_reports: weakref.WeakKeyDictionary[Any, Callable[[int, dict], bool]] = weakref.WeakKeyDictionary()


def sweep_tag(sweep_id: str) -> str:
    """Return the tag every run of sweep `sweep_id` carries."""
    return f"sweep:{sweep_id}"


def start_sweep_trial(run: Any) -> Callable[[int, dict], bool] | None:
    """Join `run` to its sweep trial once (tag, info, run dir); return the trial's report.

    Returns None outside a sweep. Called again for the same run, returns the same report.
    """
    if not os.environ.get(ENV_ID):
        return None
    if run not in _reports:
        _reports[run] = _join_trial(run)
    return _reports[run]


def sweep_trial_callback(run: Any) -> Callable[[int, dict], bool] | None:
    """Return the ``after_evaluation`` of a sweep trial's run, or None outside a sweep.

    Kept for experiment files written before the training loop wired it itself: experiments
    need not call it, `reproml.train.loop.train_and_evaluate` adds the report
    (`with_sweep_trial`). Passing it anyway reports each evaluation once, not twice: it is the
    run's one report, which `with_sweep_trial` recognizes, and the report answers a second call
    for the same step with its first decision without reporting again (a caller's own wrapper).

    Raises:
      ConfigError: the sweep's metric is not an eval metric of the run (at the first evaluation).
    """
    return start_sweep_trial(run)


def with_sweep_trial(
    run: Any, after_evaluation: Callable[[int, dict], bool | None] | None
) -> Callable[[int, dict], bool | None] | None:
    """Return `after_evaluation` followed by the sweep trial's report (stop if either says so).

    Outside a sweep, or when `after_evaluation` already is the trial's report, it is returned
    as it is.
    """
    report = start_sweep_trial(run)
    if report is None or after_evaluation is None or after_evaluation is report:
        return after_evaluation or report

    def both(step: int, metrics: dict) -> bool:
        stop = bool(after_evaluation(step, metrics))
        return bool(report(step, metrics)) or stop

    return both


def _join_trial(run: Any) -> Callable[[int, dict], bool]:
    """Tag `run` with its sweep, tell the study where it is; return the per-evaluation report."""
    import optuna  # deferred: Optuna (and its SQLAlchemy) only in a sweep trial

    sweep_id = os.environ[ENV_ID]
    spec, study = load_sweep(sweep_id, os.environ[ENV_STORAGE])
    trial = optuna.Trial(study, int(os.environ[ENV_TRIAL]))
    info = {"id": sweep_id, "trial": trial.number, "params": dict(trial.params)}
    run.info["sweep"] = info
    if not run.unobserved:
        tag_live_run(run, [sweep_tag(sweep_id)])
    trial.set_user_attr("run_id", str(run_id(run)))
    trial.set_user_attr("run_dir", run.info.get("run_dir"))

    decided: dict[int, bool] = {}  # step -> pruned: a second call for a step reports nothing

    def report(step: int, metrics: dict) -> bool:
        if step in decided:  # wired twice (an old `sweep_trial_callback` inside a wrapper)
            return decided[step]
        scalars = scalar_metrics(metrics)
        if spec.metric not in scalars:
            raise ConfigError(
                "sweep --metric", f"one of the eval metrics {sorted(scalars)}", spec.metric
            )
        trial.report(scalars[spec.metric], step)
        decided[step] = trial.should_prune()
        if decided[step]:
            info["pruned_at_step"] = step
            trial.set_user_attr("pruned_at_step", step)
        return decided[step]

    return report
