"""`rx.train_and_evaluate` on a ``TF_CONFIG`` cluster: one job, every role, one recorded run.

Every task of the job runs the same experiment command; `reproml.tracking.experiment`'s
``train_and_evaluate`` hands over to `train_and_evaluate_on_cluster` when ``TF_CONFIG`` is set,
which runs `tf.estimator.train_and_evaluate` (TensorFlow's own chief / worker / ps / evaluator
roles, the strategy of the estimator's RunConfig, `reproml.models.determinism.run_config`) and:

* on the chief (the task that records the run): logs ``train.loss`` / ``train.steps_per_sec``
  every `log_every` steps, saves a checkpoint every `eval_every` steps and evaluates it on the
  whole eval split (``eval.<name>``, as one process does), keeps the best checkpoint
  (`best_metric`), calls `after_evaluation` with each evaluation's step and metrics (e.g. the
  GAN's scores, which it adds to the metrics), adds ``history.csv``, records ``info["cluster"]``
  (the TF_CONFIG plus the strategy, `reproml.cluster.distribution.cluster_info`) and returns
  the eval metrics of the final (or best) checkpoint: the same dict a single-process run
  returns;
* on every other task (worker, evaluator; a ps serves until the launcher stops it): trains or
  evaluates, then ends the process with exit code 0. Under all-reduce a worker also saves (to a
  scratch dir) whenever the chief does: saving can be a collective op (see
  `_mirror_of_the_chiefs_saver`). The rest of the experiment's command
  (plots, export) is the chief's: a worker running it too would write into the shared
  ``model_dir`` next to the chief.

What a cluster cannot do as one process does is refused before anything runs, naming the
entry: an evaluator task without a ``model_dir`` in the config (the default, the chief's run
dir, is known to the chief alone; workers and ps train in a scratch dir of their own then);
``patience`` (early stopping) and a `reproml sweep` trial (``$REPROML_SWEEP_ID``: its pruner
stops training through ``after_evaluation``), which would stop the chief alone, leaving the
all-reduce workers waiting for it forever. Any other ``after_evaluation`` runs on the chief as
an observer: if it asks to stop (returns a true value), the chief fails with a `ConfigError`
naming it rather than stop alone.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
from collections.abc import Callable
from typing import Any

import tensorflow as tf

from reproml.cluster.distribution import cluster_info, strategy_name
from reproml.cluster.tf_config import ClusterTask, cluster_task
from reproml.errors import ConfigError
from reproml.tracking.hooks import SacredMetricsHook, log_eval_metrics

_log = logging.getLogger("reproml")

# Seconds the evaluator task (``reproml launch --evaluator``) waits between two evaluations.
EVALUATOR_THROTTLE_SECS = 1


class _EvaluateEachCheckpoint(tf.compat.v1.train.CheckpointSaverListener):
    """On the chief: evaluate every checkpoint the chief saves after `start`, log and keep it."""

    def __init__(
        self,
        estimator: Any,
        eval_input_fn: Callable,
        eval_steps: int | None,
        history: Any,
        best: Any,
        start: int,
        after_evaluation: Callable[[int, dict], bool | None] | None = None,
    ) -> None:
        self.after_evaluation = after_evaluation
        self.estimator = estimator
        self.eval_input_fn = eval_input_fn
        self.eval_steps = eval_steps
        self.history = history
        self.best = best
        self.last_step = start
        self.metrics: dict[str, Any] = {}

    def after_save(self, session: Any, global_step_value: int) -> None:  # noqa: D102
        step = int(global_step_value)
        if step <= self.last_step:
            return  # the checkpoint of the session's start, or one already evaluated
        checkpoint = os.path.join(self.estimator.model_dir, f"model.ckpt-{step}")
        metrics = dict(
            self.estimator.evaluate(
                self.eval_input_fn, steps=self.eval_steps, checkpoint_path=checkpoint
            )
        )
        self.record(metrics, step, checkpoint)

    def record(self, metrics: dict[str, Any], step: int, checkpoint: str) -> None:
        """Log one evaluation, keep the best checkpoint, call `after_evaluation` (as one process)."""
        step = int(metrics.get("global_step", step))
        log_eval_metrics(self.history, metrics, step)
        if self.best is not None:
            self.best.update(step, metrics, checkpoint)
        if self.after_evaluation is None:
            stop = False
        else:
            # Called from the chief's training session, inside its finalized graph: run the
            # callback eagerly, as on one machine (e.g. the GAN's scores build eager tensors).
            # (tf.init_scope does not lift out of a plain, non-function graph.)
            from tensorflow.python.eager import context

            with context.eager_mode():
                stop = self.after_evaluation(step, metrics)
        if stop:
            raise ConfigError(
                "after_evaluation",
                "a callback that never asks to stop on a TF_CONFIG cluster (stopping the chief "
                "alone would leave the other trainers waiting for it)",
                f"a stop request at step {step}",
            )
        self.last_step, self.metrics = step, metrics


def check_cluster_arguments(
    after_evaluation: Callable | None, best_metric: str | None, best_mode: str, patience: Any
) -> None:
    """Refuse what a cluster job cannot honour as one process does (see the module docstring).

    `after_evaluation` itself is allowed (the chief calls it as an observer), except in a
    `reproml sweep` trial, whose pruner stops training through it.

    Raises:
      ConfigError: `patience` is set, or this is a sweep trial (``$REPROML_SWEEP_ID`` set) with
        an `after_evaluation`; or `best_metric`, `best_mode`, `patience` are invalid
        (`check_early_stopping`).
    """
    from reproml.sweep.trial import ENV_ID
    from reproml.tracking.best_checkpoint import check_early_stopping

    check_early_stopping(best_metric, best_mode, patience)
    if patience is not None:
        raise ConfigError(
            "patience",
            "None on a TF_CONFIG cluster (early stopping would stop the chief alone; the other "
            "trainers would wait for it forever)",
            patience,
        )
    if after_evaluation is not None and os.environ.get(ENV_ID):
        raise ConfigError(
            ENV_ID,
            "unset on a TF_CONFIG cluster (a sweep trial's pruner stops training through "
            "after_evaluation, which would stop the chief alone); run sweeps on one machine",
            os.environ[ENV_ID],
        )


def train_and_evaluate_on_cluster(
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
    """Run this task's part of `rx.train_and_evaluate` on the ``TF_CONFIG`` cluster.

    Arguments as `reproml.tracking.experiment.train_and_evaluate`. Returns on the chief only;
    any other task ends its process with exit code 0 once its part is done.

    Returns:
      On the chief, the metrics of the best evaluation (`best_metric`), else of the final
      checkpoint, evaluated on the whole eval split.

    Raises:
      ConfigError: no ``TF_CONFIG`` cluster, `patience` given or a sweep trial (see
        `check_cluster_arguments`), `best_metric` not an eval metric of the model, or
        `after_evaluation` asking the chief to stop.
    """
    from reproml.tracking.best_checkpoint import BestCheckpoint, scalar_metrics
    from reproml.tracking.experiment import add_file_artifact, new_artifact_path
    from reproml.tracking.history import HISTORY_ARTIFACT, MetricHistory

    task = cluster_task()
    if task is None:
        raise ConfigError("TF_CONFIG", "a cluster task (one process: rx.train_and_evaluate)", None)
    check_cluster_arguments(after_evaluation, best_metric, best_mode, patience)
    if task.task_type == "evaluator" and not (getattr(_run, "config", None) or {}).get("model_dir"):
        raise ConfigError(
            "model_dir",
            "the job's shared model_dir when the cluster has an evaluator (it evaluates the "
            "chief's checkpoints; the chief's run dir is not known to the other tasks)",
            None,
        )
    strategy = strategy_name(estimator.config.train_distribute)
    eval_spec = tf.estimator.EvalSpec(
        eval_input_fn,
        steps=eval_steps,
        start_delay_secs=0,
        throttle_secs=EVALUATOR_THROTTLE_SECS,
    )
    if not task.is_chief:
        hooks = []
        if strategy == "collective" and task.is_trainer:
            hooks.append(_mirror_of_the_chiefs_saver(estimator.model_dir, task, eval_every))
        train_spec = tf.estimator.TrainSpec(train_input_fn, max_steps=steps, hooks=hooks)
        if task.task_type == "ps":
            _log.info("%s: serving variables until stopped (the chief records the run)", task.name)
            # A ps only holds variables the chief checkpoints: SIGTERM (the launcher's, the
            # training operator's) ends it at once. As Ctrl-C it could not stop server.join().
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
        else:
            _log.info(
                "%s: %s %s to step %d (the chief records the run)",
                task.name,
                strategy,
                "evaluating" if task.task_type == "evaluator" else "training",
                steps,
            )
        tf.estimator.train_and_evaluate(estimator, train_spec, eval_spec)
        end_task(task)

    _run.info["cluster"] = {**task.to_json(), **cluster_info(strategy, task)}
    start = estimator.latest_checkpoint()
    done = 0 if start is None else int(start.rsplit("-", 1)[-1])
    if done:
        _log.info("resuming from %s (step %d of %d)", start, done, steps)
        _run.info["resumed_from_step"] = done
    history = MetricHistory(_run)
    best = None
    if best_metric is not None:
        best = BestCheckpoint(estimator.model_dir, best_metric, best_mode, patience)
    evaluations = _EvaluateEachCheckpoint(
        estimator, eval_input_fn, eval_steps, history, best, done, after_evaluation
    )
    metrics_hook = SacredMetricsHook(history, log_every)
    hooks = [
        metrics_hook,
        # The chief's checkpoints, every eval_every steps and at the end, each evaluated; the
        # Estimator adds no saver of its own then (without a strategy), one keyed on time with one.
        tf.compat.v1.train.CheckpointSaverHook(
            estimator.model_dir, save_steps=eval_every, listeners=[evaluations]
        ),
    ]
    train_spec = tf.estimator.TrainSpec(train_input_fn, max_steps=steps, hooks=hooks)
    _log.info(
        "%s: %s training to step %d on %d trainer(s)", task.name, strategy, steps, task.num_trainers
    )
    try:
        tf.estimator.train_and_evaluate(estimator, train_spec, eval_spec)
    finally:
        # The chief's own training steps: on an asynchronous job, fewer than the global steps
        # when the other workers trained too. A short job may be the chief's alone: TensorFlow
        # starts worker i (i+1) x 5 s after the chief, and a worker that finds the chief's
        # variables not yet initialized checks again only 30 s later (SessionManager).
        _run.info["cluster"]["chief_steps"] = metrics_hook.train_steps
        if history.rows:
            path = history.write_csv(new_artifact_path(_run, HISTORY_ARTIFACT))
            add_file_artifact(_run, path)
    metrics = evaluations.metrics
    final = estimator.latest_checkpoint()
    if final is not None and int(final.rsplit("-", 1)[-1]) != evaluations.last_step:
        # A resumed job already at `steps`, or an asynchronous job whose last update came from a
        # worker after the chief's last save: evaluate what is on disk now.
        metrics = dict(estimator.evaluate(eval_input_fn, steps=eval_steps, checkpoint_path=final))
        evaluations.record(metrics, int(metrics.get("global_step", 0)), final)
    if best is None or best.checkpoint is None:
        return metrics
    if best.step != int(metrics.get("global_step", -1)):
        metrics = dict(
            estimator.evaluate(eval_input_fn, steps=eval_steps, checkpoint_path=best.checkpoint)
        )
    _run.info["best_checkpoint"] = {**best.record(), "metrics": scalar_metrics(metrics)}
    return metrics


def _mirror_of_the_chiefs_saver(model_dir: str, task: ClusterTask, eval_every: int) -> Any:
    """Return, for an all-reduce worker, a saver hook saving when the chief's does (scratch dir).

    Under MultiWorkerMirroredStrategy saving a checkpoint can be a collective op: a variable
    synchronized on read (e.g. a batch-norm moving mean, as in the GAN's generator) is reduced
    across the trainers when it is saved. A save on the chief alone then waits forever for the
    workers (observed: the GAN's first step hung, the worker in ``RingReduce``). So every worker
    saves at the chief's steps too, into ``model_dir/tmp_worker_<i>`` (never read).
    """
    scratch = os.path.join(model_dir, f"tmp_worker_{task.task_index}")
    return tf.compat.v1.train.CheckpointSaverHook(scratch, save_steps=eval_every)


def end_task(task: ClusterTask) -> None:
    """End a task other than the chief once its part of the job is done (exit code 0).

    ``os._exit`` rather than ``sys.exit``: the task's Sacred run is unobserved, and Sacred would
    log a ``SystemExit`` as "Failed"; it also skips TensorFlow's interpreter shutdown, which can
    hang a collective worker whose peers have gone.
    """
    print(f"{task.name}: done; the chief records the run", flush=True)
    sys.stderr.flush()
    os._exit(0)
