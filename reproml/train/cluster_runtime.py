"""Training on a ``TF_CONFIG`` cluster: one job, every role, one recorded run.

Every task of the job runs the same experiment command; the training loop
(`reproml.train.loop.train_and_evaluate`) runs on `ClusterRuntime` when ``TF_CONFIG`` is set
(`reproml.train.runtime.runtime_for_environment`). It runs `tf.estimator.train_and_evaluate`
(TensorFlow's own chief / worker / ps / evaluator roles, the strategy of the estimator's
RunConfig, `reproml.models.determinism.run_config`) and:

* on the chief (the task that records the run): logs ``train.loss`` / ``train.steps_per_sec``
  every `log_every` steps, saves a checkpoint every `eval_every` steps and evaluates it on the
  whole eval split; each evaluation goes through the loop's `Evaluations` as on one machine
  (``eval.<name>``, the best checkpoint, `after_evaluation`, e.g. the GAN's scores, which it
  adds to the metrics). It records ``info["cluster"]`` (the TF_CONFIG plus the strategy,
  `reproml.cluster.distribution.cluster_info`, and the chief's own ``chief_steps``); the loop
  adds ``history.csv`` and returns the eval metrics of the final (or best) checkpoint: the same
  dict a single-process run returns;
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
from tensorflow.python.eager import context

from reproml.cluster.distribution import cluster_info, strategy_name
from reproml.cluster.tf_config import ClusterTask
from reproml.errors import ConfigError
from reproml.sweep.trial import ENV_ID
from reproml.train.best_checkpoint import check_early_stopping
from reproml.train.evaluations import Evaluations
from reproml.train.hooks import SacredMetricsHook
from reproml.train.job import TrainingJob

_log = logging.getLogger("reproml")

# Seconds the evaluator task (``reproml launch --evaluator``) waits between two evaluations.
EVALUATOR_THROTTLE_SECS = 1


class _EvaluateEachCheckpoint(tf.compat.v1.train.CheckpointSaverListener):
    """On the chief: evaluate every checkpoint the chief saves after the start, and record it."""

    def __init__(self, job: TrainingJob | None, evaluations: Evaluations) -> None:
        self.job = job
        self.evaluations = evaluations

    def after_save(self, session: Any, global_step_value: int) -> None:  # noqa: D102
        step = int(global_step_value)
        if step <= self.evaluations.last_step:
            return  # the checkpoint of the session's start, or one already evaluated
        job = self.job
        checkpoint = os.path.join(job.estimator.model_dir, f"model.ckpt-{step}")
        metrics = dict(
            job.estimator.evaluate(
                job.eval_input_fn, steps=job.eval_steps, checkpoint_path=checkpoint
            )
        )
        self.record(metrics, step, checkpoint)

    def record(self, metrics: dict[str, Any], step: int, checkpoint: str) -> None:
        """Record one evaluation as one process does; refuse a request to stop.

        Raises:
          ConfigError: `after_evaluation` asked to stop (the chief cannot stop alone).
        """
        # Called from the chief's training session, inside its finalized graph: run the
        # evaluation's callbacks eagerly, as on one machine (e.g. the GAN's scores build eager
        # tensors). (tf.init_scope does not lift out of a plain, non-function graph.)
        with context.eager_mode():
            stop = self.evaluations.record(step, metrics, checkpoint)
        if stop:
            raise ConfigError(
                "after_evaluation",
                "a callback that never asks to stop on a TF_CONFIG cluster (stopping the chief "
                "alone would leave the other trainers waiting for it)",
                f"a stop request at step {self.evaluations.last_step}",
            )


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


class ClusterRuntime:
    """The runtime of one task of a ``TF_CONFIG`` cluster: see the module docstring.

    Args:
      task: this process's task (`reproml.cluster.tf_config.cluster_task`).
    """

    name = "cluster"

    def __init__(self, task: ClusterTask) -> None:
        self.task = task
        self.strategy: str | None = None  # the estimator's, known at `start`

    def start(self, run: Any, job: TrainingJob) -> None:
        """Refuse what a cluster cannot honour; a task other than the chief runs and ends here.

        On the chief, records ``info["cluster"]`` and returns.

        Raises:
          ConfigError: `patience` given or a sweep trial (`check_cluster_arguments`), or an
            evaluator task without the job's shared ``model_dir`` in the config.
        """
        task = self.task
        check_cluster_arguments(job.after_evaluation, job.best_metric, job.best_mode, job.patience)
        if task.task_type == "evaluator" and not (getattr(run, "config", None) or {}).get(
            "model_dir"
        ):
            raise ConfigError(
                "model_dir",
                "the job's shared model_dir when the cluster has an evaluator (it evaluates the "
                "chief's checkpoints; the chief's run dir is not known to the other tasks)",
                None,
            )
        self.strategy = strategy_name(job.estimator.config.train_distribute)
        if not task.is_chief:
            self._run_other_task(job, self.strategy)
        run.info["cluster"] = {**task.to_json(), **cluster_info(self.strategy, task)}

    def _run_other_task(self, job: TrainingJob, strategy: str) -> None:
        """Train (worker), serve (ps) or evaluate (evaluator) this task's part; end the process."""
        task = self.task
        hooks = []
        if strategy == "collective" and task.is_trainer:
            hooks.append(_mirror_of_the_chiefs_saver(job.estimator.model_dir, task, job.eval_every))
        train_spec = tf.estimator.TrainSpec(job.train_input_fn, max_steps=job.steps, hooks=hooks)
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
                job.steps,
            )
        tf.estimator.train_and_evaluate(job.estimator, train_spec, _eval_spec(job))
        end_task(task)

    def train(self, run: Any, job: TrainingJob, evaluations: Evaluations) -> None:
        """On the chief: train with the other tasks, evaluating each checkpoint the chief saves.

        The checkpoint on disk at the end is evaluated too when it was not (a resumed job
        already at `steps`, or an asynchronous job whose last update came from a worker after
        the chief's last save).

        Raises:
          ConfigError: `after_evaluation` asked the chief to stop.
        """
        task, estimator = self.task, job.estimator
        listener = _EvaluateEachCheckpoint(job, evaluations)
        metrics_hook = SacredMetricsHook(evaluations.history, job.log_every)
        hooks = [
            metrics_hook,
            # The chief's checkpoints, every eval_every steps and at the end, each evaluated; the
            # Estimator adds no saver of its own then (without a strategy), one keyed on time
            # with one.
            tf.compat.v1.train.CheckpointSaverHook(
                estimator.model_dir, save_steps=job.eval_every, listeners=[listener]
            ),
        ]
        train_spec = tf.estimator.TrainSpec(job.train_input_fn, max_steps=job.steps, hooks=hooks)
        _log.info(
            "%s: %s training to step %d on %d trainer(s)",
            task.name,
            self.strategy,
            job.steps,
            task.num_trainers,
        )
        try:
            tf.estimator.train_and_evaluate(estimator, train_spec, _eval_spec(job))
        finally:
            # The chief's own training steps: on an asynchronous job, fewer than the global
            # steps when the other workers trained too. A short job may be the chief's alone:
            # TensorFlow starts worker i (i+1) x 5 s after the chief, and a worker that finds
            # the chief's variables not yet initialized checks again only 30 s later
            # (SessionManager).
            run.info["cluster"]["chief_steps"] = metrics_hook.train_steps
        final = estimator.latest_checkpoint()
        if final is not None and int(final.rsplit("-", 1)[-1]) != evaluations.last_step:
            metrics = dict(
                estimator.evaluate(job.eval_input_fn, steps=job.eval_steps, checkpoint_path=final)
            )
            listener.record(metrics, int(metrics.get("global_step", 0)), final)


def _eval_spec(job: TrainingJob) -> Any:
    """The EvalSpec of every task: the whole eval split (or `eval_steps`), at once, throttled."""
    return tf.estimator.EvalSpec(
        job.eval_input_fn,
        steps=job.eval_steps,
        start_delay_secs=0,
        throttle_secs=EVALUATOR_THROTTLE_SECS,
    )


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
