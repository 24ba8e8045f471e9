"""What follows every evaluation of a training, on any runtime: log, keep the best, maybe stop.

A runtime (`reproml.train.runtime`) evaluates when its schedule says so and hands the result to
`Evaluations.record`, which

* logs every scalar metric as ``eval.<name>`` at the evaluated step (into the run's history);
* offers the evaluated checkpoint to the best checkpoint (`BestCheckpoint`, with `best_metric`);
* calls ``after_evaluation(step, metrics)`` (a sweep trial's report among others);
* tells the runtime whether training stops there: ``after_evaluation`` asked for it, or
  `patience` evaluations in a row did not improve the best metric (early stopping).

Why it stopped is kept in `stopped` (``info`` key and value); the loop records it once training
has returned, so a runtime that fails on a stop request records no stop.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from reproml.lazy import lazy_import
from reproml.train.best_checkpoint import BestCheckpoint

estimator_hooks = lazy_import("reproml.train.hooks")  # deferred: Estimator hooks load TensorFlow

_log = logging.getLogger("reproml")
AfterEvaluation = Callable[[int, dict], Any]


class Evaluations:
    """The evaluations of one training: the last one, the best checkpoint, and why it stopped.

    Args:
      history: where metrics are logged (a `MetricHistory` of the run; ``log_scalar``).
      best: the best checkpoint to offer each evaluation to (None: the last one counts).
      after_evaluation: called with ``(step, metrics)`` after each evaluation; a true value
        asks training to stop.
      steps: the step training goes to (early stopping at that step is no stop).
      start: the step training starts from (a resumed run: its last checkpoint's).
    """

    def __init__(
        self,
        history: Any,
        best: BestCheckpoint | None,
        after_evaluation: AfterEvaluation | None,
        steps: int,
        start: int = 0,
    ) -> None:
        self.history = history
        self.best = best
        self.after_evaluation = after_evaluation
        self.steps = steps
        self.last_step = start
        self.metrics: dict[str, Any] = {}
        self.stopped: tuple[str, dict[str, Any]] | None = None  # (info key, value)

    def patience_exhausted(self) -> bool:
        """Tell whether early stopping already stopped this training (a resumed run)."""
        return self.best is not None and self.best.should_stop()

    def record(self, step: int, metrics: Mapping[str, Any], checkpoint: str | None) -> bool:
        """Take the evaluation of `checkpoint` (at `step`); return True when training stops here.

        The step is ``metrics["global_step"]`` when the evaluation has one.

        Raises:
          ConfigError: `best_metric` is not an eval metric of the model (`BestCheckpoint`).
        """
        step = int(metrics.get("global_step", step))
        estimator_hooks.log_eval_metrics(self.history, metrics, step)
        if self.best is not None:
            self.best.update(step, metrics, checkpoint)
        self.last_step, self.metrics = step, metrics
        if self.after_evaluation is not None and self.after_evaluation(step, metrics):
            self.stopped = ("stopped_early", {"step": step, "reason": "after_evaluation"})
            return True
        best = self.best
        if best is not None and best.should_stop() and step < self.steps:
            self.stopped = (
                "early_stopping",
                {
                    "stopped_at_step": step,
                    "metric": best.metric,
                    "patience": best.patience,
                    "best_step": best.step,
                },
            )
            _log.info(
                "early stopping at step %d: %s has not improved for %d evaluations "
                "(best %.4g at step %d)",
                step,
                best.metric,
                best.patience,
                best.value,
                best.step,
            )
            return True
        return False
