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

Seeds also have to be *used*: Keras layer initializers and Keras dropout seed themselves from
Python's `random` when given no seed, bypassing the graph seed, so the networks pass graph-seeded
initializers (see `reproml/models/networks/__init__.py`).
"""

from __future__ import annotations

import os
from typing import Any

import tensorflow as tf

from reproml.errors import ConfigError


def enable_determinism() -> None:
    """Turn on TensorFlow's deterministic kernels for the whole process (idempotent)."""
    tf.config.experimental.enable_op_determinism()


def run_config(model_dir: str | os.PathLike, seed: int, **kwargs: Any) -> tf.estimator.RunConfig:
    """Return a `RunConfig` whose graphs are seeded with `seed`, with op determinism enabled.

    Args:
      model_dir: where the Estimator writes checkpoints and summaries.
      seed: the graph-level seed of every graph the Estimator builds (usually Sacred's `seed`).
      **kwargs: any other `tf.estimator.RunConfig` argument (e.g. `save_checkpoints_steps`).

    Raises:
      ConfigError: `seed` is not a non-negative integer, or `tf_random_seed` is also given.
    """
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ConfigError("seed", "a non-negative int", seed)
    if "tf_random_seed" in kwargs:
        got = kwargs["tf_random_seed"]
        raise ConfigError("tf_random_seed", "no value (pass seed= instead)", got)
    enable_determinism()
    return tf.estimator.RunConfig(model_dir=os.fspath(model_dir), tf_random_seed=seed, **kwargs)
