"""Optimizers chosen by name from the config (``optimizer = "adam"``), for the Estimator graph."""

from __future__ import annotations

from collections.abc import Callable

import tensorflow as tf

from reproml.errors import ConfigError

_train = tf.compat.v1.train

OPTIMIZERS: dict[str, Callable[[float], tf.compat.v1.train.Optimizer]] = {
    "adam": lambda lr: _train.AdamOptimizer(lr),
    "sgd": lambda lr: _train.GradientDescentOptimizer(lr),
    "rmsprop": lambda lr: _train.RMSPropOptimizer(lr),
    "adagrad": lambda lr: _train.AdagradOptimizer(lr),
}


def make_optimizer(
    name: str, lr: float, entry: str = "optimizer", lr_entry: str = "lr"
) -> tf.compat.v1.train.Optimizer:
    """Return the `tf.compat.v1` optimizer called `name` with learning rate `lr`.

    Args:
      name: one of `OPTIMIZERS` ("adam", "sgd", "rmsprop", "adagrad").
      lr: the learning rate (> 0).
      entry: the config entry `name` came from, named in errors.
      lr_entry: the config entry `lr` came from, named in errors.

    Raises:
      ConfigError: unknown optimizer name, or a learning rate that is not a positive number.
    """
    if name not in OPTIMIZERS:
        raise ConfigError(entry, f"one of {sorted(OPTIMIZERS)}", name)
    if isinstance(lr, bool) or not isinstance(lr, int | float) or not lr > 0:
        raise ConfigError(lr_entry, "a positive learning rate", lr)
    return OPTIMIZERS[name](float(lr))
