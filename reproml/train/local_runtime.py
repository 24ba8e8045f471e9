"""Training in this process: ``Estimator.train`` to each evaluation step, then evaluate.

Evaluations come every `eval_every` steps and at `steps` (a resumed run skips those it has
done). Ctrl-C / SIGTERM stop after the current step: the checkpoint of that step is saved,
``info["stopped_at_step"]`` recorded and `TrainingInterrupted` raised (Sacred records the run
INTERRUPTED); running again with the same model_dir resumes from it (`reproml.train.signals`).
"""

from __future__ import annotations

from typing import Any

from reproml.lazy import lazy_import
from reproml.train.evaluations import Evaluations
from reproml.train.job import TrainingJob
from reproml.train.signals import TrainingInterrupted, stop_on_signals

estimator_hooks = lazy_import("reproml.train.hooks")  # deferred: Estimator hooks load TensorFlow


def evaluation_steps(start: int, steps: int, eval_every: int) -> list[int]:
    """Return the steps to evaluate at after `start`: every `eval_every`, and `steps` last."""
    return [t for t in range(eval_every, steps, eval_every) if t > start] + [steps]


class LocalRuntime:
    """The runtime of one process (no ``TF_CONFIG``): see the module docstring."""

    name = "local"

    def start(self, run: Any, job: TrainingJob) -> None:
        """Nothing to refuse: one process honours every setting."""

    def train(self, run: Any, job: TrainingJob, evaluations: Evaluations) -> None:
        """Train segment by segment to ``job.steps``, evaluating after each one.

        Raises:
          TrainingInterrupted: Ctrl-C or SIGTERM arrived (the last step's checkpoint is saved).
        """
        estimator = job.estimator
        done = evaluations.last_step
        progress = estimator_hooks.ProgressBarHook(total=job.steps, initial=done)
        try:
            for target in evaluation_steps(done, job.steps, job.eval_every):
                with stop_on_signals() as stopper:
                    if target > done:
                        estimator.train(
                            job.train_input_fn,
                            max_steps=target,
                            hooks=[
                                estimator_hooks.SacredMetricsHook(
                                    evaluations.history, job.log_every
                                ),
                                stopper.hook,
                                progress,
                            ],
                        )
                if stopper.received is not None:
                    run.info["stopped_at_step"] = stopper.hook.last_step
                    raise TrainingInterrupted(
                        stopper.signal_name, stopper.hook.last_step, estimator.model_dir
                    )
                checkpoint = estimator.latest_checkpoint()
                metrics = dict(estimator.evaluate(job.eval_input_fn, steps=job.eval_steps))
                if evaluations.record(target, metrics, checkpoint):
                    return
                done = evaluations.last_step
        finally:
            progress.close()
