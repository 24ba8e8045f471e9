"""Training on the cluster `TF_CONFIG` describes: the strategy, the RunConfig, the input shard.

An Estimator experiment runs unchanged on one machine and on a cluster when it takes its input
shard from here and its RunConfig from `reproml.models.determinism.run_config_for_cluster`
(which asks `strategy_for_cluster` here for the strategy)::

    config = run_config_for_cluster(model_dir, seed, strategy="auto")   # models.determinism
    def train_input_fn(input_context=None):                            # the Estimator passes it
        files = shard_files(all_shard_paths, input_context)            # this worker's shards
        ...
    tf.estimator.train_and_evaluate(estimator, train_spec, eval_spec)  # chief/worker/ps/evaluator

Strategies (``strategy=``):

* ``"collective"``: `tf.distribute.MultiWorkerMirroredStrategy`, synchronous all-reduce on the
  chief and workers. Same seed, same cluster size, same shards -> bit-identical checkpoints.
* ``"parameter_server"``: ``tf.compat.v1.distribute.experimental.ParameterServerStrategy``;
  variables on the ps tasks, each worker updates them asynchronously.
* ``"none"``: no strategy; with ps tasks in the cluster the Estimator places variables on them
  itself (between-graph replication), also asynchronous.
* ``"auto"``: ``"collective"`` for a cluster of several trainers without ps, ``"none"`` when
  the cluster has ps tasks (the Estimator's own parameter-server training), and no strategy on
  one machine.

Asynchronous parameter-server training applies gradients in the order they arrive, which depends
on timing, so two runs are never bit-identical (see `reproml.runs.reproducibility`).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from reproml.cluster.tf_config import ClusterTask, cluster_task
from reproml.errors import ConfigError

# Under a strategy the Estimator builds its input with `make_input_fn_iterator`, whose
# `MultiDeviceIterator` reads ``dataset.options().experimental_slack`` in graph mode: TensorFlow
# then warns, once per task, that options are not known at graph construction. It concerns an
# option reproml does not set, and that path does not auto-shard (each trainer's shards are the
# ones `input_pipeline` picks; traced in TF 2.15), so the warning says nothing about the run.
warnings.filterwarnings(
    "ignore", message=r"To make it possible to preserve tf\.data options", category=UserWarning
)

STRATEGIES = ("auto", "none", "collective", "parameter_server")
# The strategy `reproml.models.determinism.run_config` uses on a cluster (default "auto"): an
# experiment runs unchanged, the job chooses, e.g. ``REPROML_STRATEGY=parameter_server``.
STRATEGY_ENV = "REPROML_STRATEGY"
T = TypeVar("T")


def strategy_from_env(environ: Mapping[str, str] | None = None) -> str:
    """Return the strategy ``$REPROML_STRATEGY`` asks for ("auto" when unset or empty).

    Raises:
      ConfigError: a value that is not one of `STRATEGIES` (the message names the variable).
    """
    environ = os.environ if environ is None else environ
    value = environ.get(STRATEGY_ENV, "").strip() or "auto"
    if value not in STRATEGIES:
        raise ConfigError(STRATEGY_ENV, f"one of {list(STRATEGIES)}", value)
    return value


def strategy_name(distribute: Any) -> str:
    """Return the `STRATEGIES` name of a RunConfig's ``train_distribute`` (None -> "none").

    Raises:
      ConfigError: a strategy reproml does not know how to record or compare.
    """
    if distribute is None:
        return "none"
    name = type(distribute).__name__
    if name.startswith(("CollectiveAllReduceStrategy", "MultiWorkerMirroredStrategy")):
        return "collective"
    if name.startswith("ParameterServerStrategy"):
        return "parameter_server"
    raise ConfigError(
        "train_distribute",
        "MultiWorkerMirroredStrategy, ParameterServerStrategy (v1) or None on a TF_CONFIG cluster",
        name,
    )


def resolve_strategy(
    strategy: str = "auto", task: ClusterTask | None = None, entry: str = "strategy"
) -> str:
    """Return the strategy `strategy` means for this cluster: "none", "collective" or "parameter_server".

    Args:
      strategy: one of `STRATEGIES`.
      task: this process's task (default: read ``TF_CONFIG``).
      entry: the setting named in errors (e.g. ``REPROML_STRATEGY`` when read from there).

    Raises:
      ConfigError: an unknown strategy, or "collective" on a cluster with ps tasks.
    """
    if strategy not in STRATEGIES:
        raise ConfigError(entry, f"one of {list(STRATEGIES)}", strategy)
    task = cluster_task() if task is None else task
    if task is None:
        return "none"
    if strategy == "auto":
        return "none" if task.num_ps else ("collective" if task.num_trainers > 1 else "none")
    if strategy == "collective" and task.num_ps:
        raise ConfigError(
            entry, "a cluster without ps tasks for 'collective' (all-reduce)", task.cluster
        )
    if strategy == "none" and task.num_trainers > 1 and not task.num_ps:
        raise ConfigError(
            entry,
            "'collective' or ps tasks for several trainers (with 'none' each trains its own copy)",
            strategy,
        )
    if strategy == "parameter_server" and not task.num_ps:
        raise ConfigError(entry, "ps tasks in TF_CONFIG for 'parameter_server'", task.cluster)
    return strategy


def strategy_for_cluster(
    strategy: str = "auto", task: ClusterTask | None = None, entry: str = "strategy"
) -> Any:
    """Return the `tf.distribute` strategy for this task, or None (Estimator default).

    The evaluator never gets one (it evaluates checkpoints on its own). Create the strategy
    before any other TensorFlow op: ``MultiWorkerMirroredStrategy`` configures the runtime.

    Raises:
      ConfigError: see `resolve_strategy`.
    """
    task = cluster_task() if task is None else task
    kind = resolve_strategy(strategy, task, entry)
    if task is None or kind == "none" or task.task_type == "evaluator":
        return None
    import tensorflow as tf

    if kind == "collective":
        return tf.distribute.MultiWorkerMirroredStrategy() if task.is_trainer else None
    return tf.compat.v1.distribute.experimental.ParameterServerStrategy()


def start_cluster_runtime(task: ClusterTask | None = None) -> Any:
    """Configure this task's collective runtime now, before other TensorFlow work starts it.

    A `tf.distribute.MultiWorkerMirroredStrategy` configures the process's eager runtime, which
    TensorFlow allows only before that runtime has started ("Collective ops must be configured
    at program startup"); a later strategy for the same task reuses the configuration. Code that
    runs TensorFlow eagerly before it builds its Estimator (e.g. the GAN's fixed evaluator,
    `reproml.models.evaluator.load_or_train_evaluator`) calls this first. A no-op (None) on one
    machine, on ps and evaluator tasks, and for the ps strategies.

    Returns:
      The strategy created (the one ``$REPROML_STRATEGY`` and ``TF_CONFIG`` call for), or None.

    Raises:
      ConfigError: a bad ``$REPROML_STRATEGY`` or one the cluster cannot run (`resolve_strategy`).
    """
    task = cluster_task() if task is None else task
    if task is None:
        return None
    strategy = strategy_from_env()
    if resolve_strategy(strategy, task, STRATEGY_ENV) != "collective":
        return None
    return strategy_for_cluster(strategy, task, STRATEGY_ENV)


def input_pipeline(input_context: Any = None, task: ClusterTask | None = None) -> tuple[int, int]:
    """Return ``(number of input pipelines, this task's pipeline index)``.

    From the `tf.distribute.InputContext` the Estimator passes to an input_fn that takes
    ``input_context`` (under a strategy), else from ``TF_CONFIG`` (trainers in order: chief, then
    workers), never from the top-level `RunConfig`, whose task fields hold placeholders when a
    strategy is set. An evaluator, a ps task or a single process reads everything: ``(1, 0)``.
    """
    if input_context is not None:
        return input_context.num_input_pipelines, input_context.input_pipeline_id
    task = cluster_task() if task is None else task
    if task is None or not task.is_trainer:
        return 1, 0
    return task.num_trainers, task.trainer_index


def shard_files(
    paths: Sequence[T], input_context: Any = None, task: ClusterTask | None = None
) -> list[T]:
    """Return this task's record shards: ``paths[index::num_pipelines]`` (deterministic).

    Every trainer reads whole shard files, none is read twice, and which one reads which depends
    only on the trainer's index and the manifest's shard order.

    Raises:
      ConfigError: fewer shard files than trainers (some trainer would have no data).
    """
    num, index = input_pipeline(input_context, task)
    if len(paths) < num:
        raise ConfigError(
            "record shards",
            f"at least one shard file per trainer ({num} trainers; write smaller shards)",
            f"{len(paths)} shard file(s)",
        )
    return list(paths[index::num])


def shard_for_task(dataset: Any, input_context: Any = None, task: ClusterTask | None = None) -> Any:
    """Return ``dataset.shard(num_pipelines, index)`` for this task (the dataset itself for one).

    Apply it to a dataset of shard file names before reading them, so each trainer reads whole
    files (`shard_files` does the same on a Python list).
    """
    num, index = input_pipeline(input_context, task)
    return dataset if num == 1 else dataset.shard(num, index)


def cluster_info(strategy: str = "auto", task: ClusterTask | None = None) -> dict[str, Any] | None:
    """Return what the chief's run records of the job (None on one machine).

    ``{"cluster": {type: [addresses]}, "strategy": "collective" | "parameter_server" | "none",
    "synchronous": bool, "num_trainers": int, "num_ps": int}``; `reproml.runs.reproducibility`
    reads it back to decide how a re-run is compared. (The chief adds ``chief_steps``, the
    training steps it ran itself: `reproml.train.cluster_runtime`.)
    """
    task = cluster_task() if task is None else task
    if task is None:
        return None
    kind = resolve_strategy(strategy, task)
    return {
        "cluster": task.cluster,
        "strategy": kind,
        "synchronous": not task.num_ps,
        "num_trainers": task.num_trainers,
        "num_ps": task.num_ps,
    }
