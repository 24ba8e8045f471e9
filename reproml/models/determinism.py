"""Seeding that reaches the Estimator's graph, and deterministic kernels.

Sacred seeds Python's `random`, NumPy and (in eager mode) TensorFlow's global generator when a
run starts. None of that reaches a `tf.estimator.Estimator`: the Estimator builds a *new*
`tf.Graph` for every `train` / `evaluate` / `predict` call, and a new graph starts without a
graph-level seed, so variable initializers, dropout and noise would get fresh random seeds on
every run. The only way in is `RunConfig(tf_random_seed=seed)`, which the Estimator applies to
each graph it builds.

A seed fixes *which* random numbers are drawn, not the *order of floating-point sums*: some
kernels (multi-threaded reductions, scatter/segment ops, cuDNN algorithm choice) may add in a
different order from run to run. `tf.config.experimental.enable_op_determinism()` makes
TensorFlow use deterministic kernels (or raise where none exists), and makes random ops with
neither a graph nor an op seed raise ``RuntimeError`` instead of silently drawing a fresh seed.
It is a process-wide switch that `run_config` turns on and never off, which suits an
experiment process (tests that build other graphs afterwards must seed them).

On a ``TF_CONFIG`` cluster (`reproml.cluster`), `run_config` also sets ``train_distribute`` to the
strategy the cluster calls for (``$REPROML_STRATEGY``, default "auto": MultiWorkerMirroredStrategy
for several trainers, the Estimator's own parameter-server training when the cluster has ps
tasks), so an experiment runs unchanged on one machine and on a cluster. Without ``TF_CONFIG``
nothing changes.

Seeds also have to be *used*: Keras layer initializers and Keras dropout seed themselves from
Python's `random` when given no seed, bypassing the graph seed, so the networks pass graph-seeded
initializers (see `reproml/models/networks/__init__.py`).
"""

from __future__ import annotations

import os
from typing import Any

import tensorflow as tf

from reproml.cluster.distribution import STRATEGY_ENV, strategy_for_cluster, strategy_from_env
from reproml.cluster.tf_config import cluster_task
from reproml.errors import ConfigError


def enable_determinism() -> None:
    """Turn on TensorFlow's deterministic kernels for the whole process (idempotent)."""
    tf.config.experimental.enable_op_determinism()


def run_config(model_dir: str | os.PathLike, seed: int, **kwargs: Any) -> tf.estimator.RunConfig:
    """Return a `RunConfig` whose graphs are seeded with `seed`, with op determinism enabled.

    On a ``TF_CONFIG`` cluster, ``train_distribute`` defaults to the strategy of
    `reproml.cluster.distribution.strategy_for_cluster` for ``$REPROML_STRATEGY`` ("auto" when
    unset); pass ``train_distribute`` (even None) to choose it yourself.

    Args:
      model_dir: where the Estimator writes checkpoints and summaries.
      seed: the graph-level seed of every graph the Estimator builds (usually Sacred's `seed`).
      **kwargs: any other `tf.estimator.RunConfig` argument (e.g. `save_checkpoints_steps`).

    Raises:
      ConfigError: `seed` is not a non-negative integer, `tf_random_seed` is also given, or
        ``TF_CONFIG`` / ``$REPROML_STRATEGY`` is malformed or asks for a strategy the cluster
        cannot run (the message names the variable).
    """
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ConfigError("seed", "a non-negative int", seed)
    if "tf_random_seed" in kwargs:
        got = kwargs["tf_random_seed"]
        raise ConfigError("tf_random_seed", "no value (pass seed= instead)", got)
    if "train_distribute" not in kwargs:
        task = cluster_task()
        if task is not None:
            strategy = strategy_from_env()
            kwargs["train_distribute"] = strategy_for_cluster(strategy, task, STRATEGY_ENV)
    enable_determinism()
    return tf.estimator.RunConfig(model_dir=os.fspath(model_dir), tf_random_seed=seed, **kwargs)


def run_config_for_cluster(
    model_dir: str | os.PathLike, seed: int, strategy: str = "auto", **kwargs: Any
) -> tf.estimator.RunConfig:
    """Return a seeded, deterministic `RunConfig` whose ``train_distribute`` fits ``TF_CONFIG``.

    Args:
      model_dir: the job's shared checkpoint directory (every task must reach it).
      seed: the graph seed (`run_config`).
      strategy: one of `reproml.cluster.distribution.STRATEGIES`.
      **kwargs: any other `tf.estimator.RunConfig` argument.

    Raises:
      ConfigError: see `reproml.cluster.distribution.resolve_strategy`, or `train_distribute`
        also given.
    """
    if "train_distribute" in kwargs:
        raise ConfigError("train_distribute", "no value (pass strategy= instead)", "a strategy")
    distribute = strategy_for_cluster(strategy)
    return run_config(model_dir, seed, train_distribute=distribute, **kwargs)
