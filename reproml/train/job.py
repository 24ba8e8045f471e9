"""One call of the training loop, as a runtime receives it: the Estimator, inputs, schedule."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from reproml.checks import int_at_least
from reproml.train.evaluations import AfterEvaluation


@dataclasses.dataclass(frozen=True)
class TrainingJob:
    """One call of the training loop: the Estimator, its inputs and its schedule.

    Attributes:
      estimator: the Estimator (its model_dir holds checkpoints and TensorBoard events).
      train_input_fn: repeats forever (training stops by step count).
      eval_input_fn: one pass over the eval split (or `eval_steps` batches).
      steps: the global step to train to.
      eval_every: train steps between evaluations.
      log_every: train steps between metric logs.
      eval_steps: evaluation batches (None: until `eval_input_fn` is exhausted).
      after_evaluation: called after each evaluation (with a sweep trial's report added).
      best_metric: the eval metric choosing the best checkpoint (None: the last one counts).
      best_mode: ``max`` or ``min``: which values of `best_metric` are better.
      patience: evaluations without improvement before stopping (None: never).

    Raises:
      ConfigError: `steps`, `eval_every` or `log_every` is not an int >= 1, or `eval_steps`
        is neither None nor one (named: a value a main passed through from its config would
        otherwise fail deep in the loop, e.g. in the progress bar, with a traceback).
    """

    estimator: Any
    train_input_fn: Callable
    eval_input_fn: Callable
    steps: int
    eval_every: int
    log_every: int
    eval_steps: int | None = None
    after_evaluation: AfterEvaluation | None = None
    best_metric: str | None = None
    best_mode: str = "max"
    patience: int | None = None

    def __post_init__(self) -> None:
        for entry in ("steps", "eval_every", "log_every"):
            int_at_least(entry, getattr(self, entry))
        if self.eval_steps is not None:
            int_at_least("eval_steps", self.eval_steps)
