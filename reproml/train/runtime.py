"""Where one training runs: this process, or this task of a ``TF_CONFIG`` cluster.

The training loop (`reproml.train.loop`) owns everything that is the same wherever it runs:
resuming, the best checkpoint, early stopping, the history, what follows each evaluation
(`reproml.train.evaluations`). A `Runtime` owns only how training steps and evaluations run:

* `LocalRuntime` (no ``TF_CONFIG``): ``Estimator.train`` to each evaluation step in turn, then
  ``Estimator.evaluate``; Ctrl-C / SIGTERM stop after the current step
  (`reproml.train.local_runtime`);
* `ClusterRuntime` (``TF_CONFIG`` set): `tf.estimator.train_and_evaluate` with TensorFlow's
  chief / worker / ps / evaluator roles; the chief evaluates each checkpoint it saves, every
  other task does its part and ends its process (`reproml.train.cluster_runtime`).

`runtime_for_environment` chooses one from ``TF_CONFIG``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from reproml.cluster.tf_config import cluster_task
from reproml.lazy import lazy_import
from reproml.train.evaluations import Evaluations
from reproml.train.job import TrainingJob
from reproml.train.local_runtime import LocalRuntime

# Deferred: the cluster runtime subclasses a TensorFlow listener at import.
cluster_runtime = lazy_import("reproml.train.cluster_runtime")


class Runtime(Protocol):
    """How the training steps and the evaluations of one `TrainingJob` run."""

    def start(self, run: Any, job: TrainingJob) -> None:
        """Refuse what this runtime cannot honour, before anything runs.

        A task that does not record the run (a cluster's worker, ps, evaluator) does its whole
        part here and ends its process.

        Raises:
          ConfigError: naming the config entry this runtime cannot honour.
        """

    def train(self, run: Any, job: TrainingJob, evaluations: Evaluations) -> None:
        """Train from ``evaluations.last_step`` to ``job.steps``, evaluating on the schedule.

        Every evaluation goes to ``evaluations.record``; training ends there when it returns
        True (or, where stopping is impossible, fails naming why).
        """


def runtime_for_environment(environ: Mapping[str, str] | None = None) -> Runtime:
    """Return the runtime ``TF_CONFIG`` asks for: a `ClusterRuntime` for its task, else local.

    Args:
      environ: the environment to read (default ``os.environ``).

    Raises:
      ConfigError: ``TF_CONFIG`` is malformed (`reproml.cluster.tf_config.cluster_task`).
    """
    task = cluster_task(environ)
    if task is None:
        return LocalRuntime()
    return cluster_runtime.ClusterRuntime(task)
