"""`TF_CONFIG`: the cluster a task belongs to and the role of this task in it.

TensorFlow's cluster runtime (and Kubeflow's TFJob, which sets the variable in every pod) describes
a distributed job to each of its processes with one JSON environment variable::

    TF_CONFIG='{"cluster": {"chief": ["host0:2222"], "worker": ["host1:2222"],
                            "ps": ["host2:2222"]},
                "task": {"type": "worker", "index": 0}}'

The evaluator is not in ``cluster``: its ``task.type`` is ``"evaluator"``. This module reads the
variable without importing TensorFlow (`reproml.tracking` asks `is_chief` before a run starts).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
from collections.abc import Iterator, Mapping
from typing import Any

from reproml.errors import ConfigError

TF_CONFIG_ENV = "TF_CONFIG"
TRAINER_TYPES = ("chief", "master", "worker")
TASK_TYPES = (*TRAINER_TYPES, "ps", "evaluator")


@dataclasses.dataclass(frozen=True)
class ClusterTask:
    """One task of a cluster: the cluster spec (type -> addresses) and this task's type and index."""

    cluster: dict[str, list[str]]
    task_type: str
    task_index: int

    @property
    def is_chief(self) -> bool:
        """True for the task that records the run: the chief, or worker 0 when there is none."""
        if self.task_type in ("chief", "master"):
            return True
        has_chief = any(self.cluster.get(kind) for kind in ("chief", "master"))
        return self.task_type == "worker" and self.task_index == 0 and not has_chief

    @property
    def is_trainer(self) -> bool:
        """True for a task that runs training steps (chief or worker; not ps, not evaluator)."""
        return self.task_type in TRAINER_TYPES

    @property
    def num_trainers(self) -> int:
        """Number of tasks that train (chief and workers): the input is sharded this many ways."""
        return sum(len(self.cluster.get(kind, [])) for kind in TRAINER_TYPES)

    @property
    def num_ps(self) -> int:
        """Number of parameter servers in the cluster."""
        return len(self.cluster.get("ps", []))

    @property
    def trainer_index(self) -> int | None:
        """Index of this task among the trainers (chief first, then workers); None otherwise."""
        if not self.is_trainer:
            return None
        chiefs = len(self.cluster.get("chief", [])) + len(self.cluster.get("master", []))
        return (
            self.task_index if self.task_type in ("chief", "master") else chiefs + self.task_index
        )

    @property
    def name(self) -> str:
        """``type:index``, e.g. ``worker:1`` (the prefix of the launcher's log lines)."""
        return f"{self.task_type}:{self.task_index}"

    def to_json(self) -> dict[str, Any]:
        """Returns the ``TF_CONFIG`` JSON of this task."""
        return {
            "cluster": {kind: list(addrs) for kind, addrs in self.cluster.items()},
            "task": {"type": self.task_type, "index": self.task_index},
        }


def cluster_task(environ: Mapping[str, str] | None = None) -> ClusterTask | None:
    """Returns this process's task from ``TF_CONFIG``, or None when the variable is unset or empty.

    Args:
      environ: the environment to read (default: ``os.environ``).

    Raises:
      ConfigError: ``TF_CONFIG`` is not JSON, has no ``task``, names a task type TensorFlow does
        not know, or an index outside the cluster (the message names the entry and the value).
    """
    environ = os.environ if environ is None else environ
    raw = environ.get(TF_CONFIG_ENV, "").strip()
    if not raw:
        return None
    try:
        data = json.loads(raw)
    except ValueError as err:
        raise ConfigError(TF_CONFIG_ENV, f"JSON ({err})", raw) from err
    if not isinstance(data, dict):
        raise ConfigError(TF_CONFIG_ENV, "a JSON object with 'cluster' and 'task'", raw)
    cluster = data.get("cluster") or {}
    task = data.get("task") or {}
    if not isinstance(cluster, dict) or not all(
        isinstance(k, str) and isinstance(v, list) and all(isinstance(a, str) for a in v)
        for k, v in cluster.items()
    ):
        raise ConfigError(f"{TF_CONFIG_ENV}.cluster", "task type -> list of 'host:port'", cluster)
    if not cluster and not task:
        return None  # '{}' (some launchers set it so): not distributed.
    if not isinstance(task, dict) or task.get("type") not in TASK_TYPES:
        got = task.get("type") if isinstance(task, dict) else task
        raise ConfigError(f"{TF_CONFIG_ENV}.task.type", f"one of {list(TASK_TYPES)}", got)
    index = task.get("index", 0)
    if isinstance(index, bool) or not isinstance(index, int) or index < 0:
        raise ConfigError(f"{TF_CONFIG_ENV}.task.index", "an int >= 0", index)
    kind = task["type"]
    if kind != "evaluator" and index >= len(cluster.get(kind, [])):
        raise ConfigError(
            f"{TF_CONFIG_ENV}.task.index",
            f"an index of cluster[{kind!r}] ({len(cluster.get(kind, []))} task(s))",
            index,
        )
    if kind != "evaluator" and not any(cluster.get(k) for k in TRAINER_TYPES):
        raise ConfigError(f"{TF_CONFIG_ENV}.cluster", "at least one chief or worker", cluster)
    return ClusterTask(
        cluster={k: list(v) for k, v in cluster.items()}, task_type=kind, task_index=index
    )


def is_chief(environ: Mapping[str, str] | None = None) -> bool:
    """True when this process should record the run: no ``TF_CONFIG``, or the cluster's chief.

    The chief is the ``chief`` (or legacy ``master``) task, or ``worker`` 0 of a cluster without
    one. Workers, parameter servers and the evaluator are not: a distributed job is one run.

    Raises:
      ConfigError: ``TF_CONFIG`` is set but malformed (see `cluster_task`).
    """
    task = cluster_task(environ)
    return task is None or task.is_chief


@contextlib.contextmanager
def tf_config_hidden() -> Iterator[None]:
    """Hide ``TF_CONFIG`` from what is built inside: a RunConfig made there is one process's.

    `tf.estimator.RunConfig` reads ``TF_CONFIG`` once, when it is constructed (its cluster, task,
    master); `reproml.models.determinism.run_config` reads it to pick the strategy. Inside this
    block neither sees a cluster, so an Estimator built here trains, evaluates and predicts as in
    a single process, even on a cluster task (e.g. the GAN's fixed evaluation classifier). The
    variable is restored on exit, exceptions included.
    """
    saved = os.environ.pop(TF_CONFIG_ENV, None)
    try:
        yield
    finally:
        if saved is not None:
            os.environ[TF_CONFIG_ENV] = saved
