"""Estimator hooks: metrics to the Sacred run, a progress bar, and stopping on a signal.

Metric names follow docs/architecture.md: ``train.loss`` and ``train.steps_per_sec`` every
`every_n_steps` training steps, ``eval.<name>`` for every scalar evaluation metric.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from typing import Any

import numpy as np
import tensorflow as tf


class SacredMetricsHook(tf.compat.v1.train.SessionRunHook):
    """Log ``train.loss`` and ``train.steps_per_sec`` to a Sacred run every N steps.

    Args:
      run: the Sacred run (``_run``); anything with ``log_scalar(name, value, step)``.
      every_n_steps: log when the global step has advanced by at least this much.
      loss_name: the name of the loss tensor in the graph; default: the ``LOSSES`` collection
        total, else the tensor named ``loss`` by the Estimator.
    """

    def __init__(self, run: Any, every_n_steps: int = 100, loss_name: str | None = None) -> None:
        if every_n_steps < 1:
            raise ValueError(f"every_n_steps must be >= 1, got {every_n_steps}")
        self.run = run
        self.every_n_steps = int(every_n_steps)
        self.loss_name = loss_name
        self.logged_steps: list[int] = []
        self.train_steps = 0  # training runs of this process (on a cluster: this task's share)

    def begin(self) -> None:  # noqa: D102
        self._global_step = tf.compat.v1.train.get_global_step()
        if self._global_step is None:
            raise RuntimeError("SacredMetricsHook needs a global step in the graph")
        self._loss = self._find_loss()
        self._last_step: int | None = None
        self._last_time = 0.0

    def _find_loss(self) -> tf.Tensor:
        graph = tf.compat.v1.get_default_graph()
        if self.loss_name:
            return graph.get_tensor_by_name(self.loss_name)
        losses = tf.compat.v1.get_collection(tf.compat.v1.GraphKeys.LOSSES)
        if losses:
            return losses[-1]
        raise RuntimeError(
            "SacredMetricsHook found no loss: pass loss_name= (e.g. 'loss:0') or add the loss to "
            "the LOSSES collection"
        )

    def before_run(self, run_context: Any) -> tf.compat.v1.train.SessionRunArgs:  # noqa: D102
        return tf.compat.v1.train.SessionRunArgs(self._loss)

    def after_run(self, run_context: Any, run_values: Any) -> None:  # noqa: D102
        # The step this run reached, read after it. Fetched in the same ``session.run`` as a train
        # op that increments it, the global step is read before or after the increment: nothing
        # orders the two (observed: a GAN run and its exact re-run logged identical losses at
        # steps [1, 3, 5, 7] and [2, 4, 7], which `reproml reproduce` calls not reproduced).
        step = int(run_context.session.run(self._global_step))
        loss = run_values.results
        self.train_steps += 1
        now = time.perf_counter()
        if self._last_step is None:
            self._last_step, self._last_time = step, now
            self._log(step, float(loss), None)
            return
        if step - self._last_step >= self.every_n_steps:
            elapsed = now - self._last_time
            rate = (step - self._last_step) / elapsed if elapsed > 0 else None
            self._log(step, float(loss), rate)
            self._last_step, self._last_time = step, now

    def _log(self, step: int, loss: float, steps_per_sec: float | None) -> None:
        if math.isfinite(loss):
            self.run.log_scalar("train.loss", loss, step)
        if steps_per_sec is not None:
            self.run.log_scalar("train.steps_per_sec", steps_per_sec, step)
        self.logged_steps.append(step)


def log_eval_metrics(
    run: Any, metrics: Mapping[str, Any], step: int | None = None
) -> dict[str, float]:
    """Log every scalar of an `Estimator.evaluate` result as ``eval.<name>`` at its step.

    Non-scalar values (e.g. ``confusion_matrix``) and ``global_step`` itself are skipped.

    Args:
      run: the Sacred run.
      metrics: the dict `evaluate` returned.
      step: the step to log at; default ``metrics["global_step"]``.

    Returns:
      The ``{"eval.<name>": value}`` that were logged.
    """
    if step is None:
        step = int(metrics["global_step"]) if "global_step" in metrics else None
    logged = {}
    for name, value in sorted(metrics.items()):
        if name == "global_step":
            continue
        array = np.asarray(value)
        if array.ndim != 0 or not np.issubdtype(array.dtype, np.number):
            continue
        logged[f"eval.{name}"] = float(array)
        run.log_scalar(f"eval.{name}", float(array), step)
    return logged


class ProgressBarHook(tf.compat.v1.train.SessionRunHook):
    """A tqdm bar of training steps, kept across several `Estimator.train` calls.

    Args:
      total: the final global step.
      initial: the global step training starts from (a resumed run).
    """

    def __init__(self, total: int, initial: int = 0) -> None:
        from tqdm.auto import tqdm

        self.bar = tqdm(
            total=total,
            initial=initial,
            desc="train steps",
            unit="step",
            mininterval=2.0,
            dynamic_ncols=True,
        )
        self._seen = initial

    def begin(self) -> None:  # noqa: D102
        self._global_step = tf.compat.v1.train.get_global_step()

    def before_run(self, run_context: Any) -> tf.compat.v1.train.SessionRunArgs:  # noqa: D102
        return tf.compat.v1.train.SessionRunArgs(self._global_step)

    def after_run(self, run_context: Any, run_values: Any) -> None:  # noqa: D102
        step = int(run_values.results) + 1
        if step > self._seen:
            self.bar.update(step - self._seen)
            self._seen = step

    def close(self) -> None:
        """Close the bar."""
        self.bar.close()


class StopOnSignalHook(tf.compat.v1.train.SessionRunHook):
    """Requests the Estimator to stop after the step during which a signal arrived.

    Args:
      stopper: the `reproml.train.signals.SignalStopper` whose ``received`` is checked.
    """

    def __init__(self, stopper: Any) -> None:
        self.stopper = stopper
        self.last_step: int | None = None

    def begin(self) -> None:  # noqa: D102
        self._global_step = tf.compat.v1.train.get_global_step()

    def before_run(self, run_context: Any) -> tf.compat.v1.train.SessionRunArgs:  # noqa: D102
        if self.stopper.received is not None:
            run_context.request_stop()
        return tf.compat.v1.train.SessionRunArgs(self._global_step)

    def after_run(self, run_context: Any, run_values: Any) -> None:  # noqa: D102
        self.last_step = int(run_values.results) + 1
        if self.stopper.received is not None:
            run_context.request_stop()
