"""The training loop: train to `steps`, evaluate on a schedule, keep the best, record it all.

One loop for every runtime (`reproml.train.runtime`: this process, or a ``TF_CONFIG``
cluster's task): what differs is only how training steps and evaluations run. The loop
resumes from the Estimator's model_dir, keeps the best checkpoint and stops early
(`reproml.train.best_checkpoint`), follows each evaluation with `after_evaluation` and, in a
`reproml sweep` trial, the trial's report and pruning (`reproml.sweep.trial.with_sweep_trial`:
an experiment wires nothing for it), and records the history as ``history.csv``.

`_run` is the Sacred run, used only through what it offers every step: ``log_scalar``,
``info``, ``add_artifact`` (the train layer knows nothing of the tracking around it).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from reproml.models.scalar_metrics import scalar_metrics
from reproml.runs.artifact_files import add_file_artifact, artifact_dir
from reproml.sweep.trial import start_sweep_trial, with_sweep_trial
from reproml.train.best_checkpoint import BestCheckpoint, check_early_stopping
from reproml.train.evaluations import Evaluations
from reproml.train.history import HISTORY_ARTIFACT, MetricHistory
from reproml.train.job import TrainingJob
from reproml.train.runtime import runtime_for_environment

_log = logging.getLogger("reproml")


def start_training_run(_run: Any) -> None:
    """Prepare a run for training as it starts (tracking's pre-run hook calls this).

    In a `reproml sweep` trial the run is tagged and joined to its trial now
    (`reproml.sweep.trial.start_sweep_trial`), so a run that fails before its first evaluation
    is still found by its sweep; outside a sweep nothing happens.
    """
    start_sweep_trial(_run)


def checkpoint_step(checkpoint: str | None) -> int:
    """Return the global step of a checkpoint path (``.../model.ckpt-150`` -> 150; None -> 0)."""
    return 0 if checkpoint is None else int(checkpoint.rsplit("-", 1)[-1])


def train_and_evaluate(
    _run: Any,
    estimator: Any,
    train_input_fn: Callable,
    eval_input_fn: Callable,
    *,
    steps: int,
    eval_every: int,
    log_every: int,
    eval_steps: int | None = None,
    after_evaluation: Callable[[int, dict], bool | None] | None = None,
    best_metric: str | None = None,
    best_mode: str = "max",
    patience: int | None = None,
) -> dict[str, Any]:
    """Train to `steps` (resuming from `estimator.model_dir`), evaluating every `eval_every`.

    Logs ``train.loss`` / ``train.steps_per_sec`` every `log_every` steps and every scalar
    eval metric as ``eval.<name>``; the whole history is added as the ``history.csv``
    artifact. Ctrl-C / SIGTERM stop after the current step; the checkpoint of that step is
    saved and `TrainingInterrupted` is raised (Sacred records INTERRUPTED). Running again with
    the same model_dir continues to `steps`. With ``TF_CONFIG`` set, this task plays its role
    in the cluster's job (`reproml.train.cluster_runtime`); only the chief returns.

    With `best_metric`, the checkpoint of the evaluation with the best value is kept in
    ``<model_dir>/best/`` (`BestCheckpoint`) and recorded as ``info["best_checkpoint"]``
    (metric, mode, step, value, path, and its scalar ``metrics``); with `patience` too,
    training stops once that many evaluations in a row did not improve it
    (``info["early_stopping"]``). The metrics returned are then those of the best checkpoint
    (evaluated again if it is not the last one), so the run reports the model it exports.

    Args:
      _run: the Sacred run.
      estimator: the Estimator (its model_dir holds checkpoints and TensorBoard events).
      train_input_fn: repeats forever (training stops by step count).
      eval_input_fn: one pass over the eval split (or use `eval_steps`).
      steps: the global step to train to.
      eval_every: train steps between evaluations.
      log_every: train steps between metric logs.
      eval_steps: evaluation batches (None: until `eval_input_fn` is exhausted).
      after_evaluation: called with ``(step, metrics)`` after each evaluation; a true return
        value stops training there (``info["stopped_early"]``). In a sweep trial the trial's
        report is added (`reproml.sweep.trial.with_sweep_trial`): a pruned trial stops too.
      best_metric: the eval metric choosing the best checkpoint (None: the last one counts).
      best_mode: ``max`` or ``min``: which values of `best_metric` are better.
      patience: evaluations without improvement before stopping (None: never stop early).

    Returns:
      The metrics of the best evaluation (`best_metric`), else of the last one.

    Raises:
      ConfigError: `best_metric`, `best_mode` or `patience` is invalid, `best_metric` is not
        an eval metric of the model, or the runtime cannot honour a setting (a cluster:
        `patience`, a sweep trial, an evaluator without the shared ``model_dir``).
    """
    job = TrainingJob(
        estimator=estimator,
        train_input_fn=train_input_fn,
        eval_input_fn=eval_input_fn,
        steps=steps,
        eval_every=eval_every,
        log_every=log_every,
        eval_steps=eval_steps,
        after_evaluation=with_sweep_trial(_run, after_evaluation),  # a sweep trial's pruning
        best_metric=best_metric,
        best_mode=best_mode,
        patience=patience,
    )
    check_early_stopping(best_metric, best_mode, patience)
    runtime = runtime_for_environment()
    runtime.start(_run, job)  # a cluster task other than the chief ends here
    start = estimator.latest_checkpoint()
    done = checkpoint_step(start)
    if done:
        _log.info("resuming from %s (step %d of %d)", start, done, steps)
        _run.info["resumed_from_step"] = done
    best = None
    if best_metric is not None:
        best = BestCheckpoint(estimator.model_dir, best_metric, best_mode, patience)
    history = MetricHistory(_run)
    evaluations = Evaluations(history, best, job.after_evaluation, steps, done)
    try:
        if not evaluations.patience_exhausted():  # a resumed run that had stopped early
            runtime.train(_run, job, evaluations)
    finally:
        if history.rows:
            path = history.write_csv(artifact_dir(_run) / HISTORY_ARTIFACT)
            add_file_artifact(_run, path)
    if evaluations.stopped is not None:
        key, value = evaluations.stopped
        _run.info[key] = value
    metrics = evaluations.metrics
    if best is None or best.checkpoint is None:
        return metrics
    if best.step != int(metrics.get("global_step", -1)):
        metrics = dict(
            estimator.evaluate(eval_input_fn, steps=eval_steps, checkpoint_path=best.checkpoint)
        )
    _run.info["best_checkpoint"] = {**best.record(), "metrics": scalar_metrics(metrics)}
    return metrics
