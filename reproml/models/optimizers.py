"""Optimizers chosen by name from the config (``optimizer = "adam"``), for the Estimator graph."""

from __future__ import annotations

from collections.abc import Callable

from reproml.errors import ConfigError
from reproml.lazy import lazy_import

tf = lazy_import("tensorflow")

OPTIMIZERS: dict[str, Callable[..., tf.compat.v1.train.Optimizer]] = {
    "adam": lambda lr, beta1=0.9, beta2=0.999: tf.compat.v1.train.AdamOptimizer(lr, beta1, beta2),
    "sgd": lambda lr: tf.compat.v1.train.GradientDescentOptimizer(lr),
    "rmsprop": lambda lr, decay=0.9: tf.compat.v1.train.RMSPropOptimizer(lr, decay=decay),
    "adagrad": lambda lr: tf.compat.v1.train.AdagradOptimizer(lr),
}
# Settings each optimizer takes besides the learning rate. Settings of other optimizers are
# ignored (one config can name Adam's betas and still choose RMSProp); None means the default.
OPTIMIZER_OPTIONS: dict[str, tuple[str, ...]] = {
    "adam": ("beta1", "beta2"),
    "sgd": (),
    "rmsprop": ("decay",),
    "adagrad": (),
}
KNOWN_OPTIONS = frozenset(o for options in OPTIMIZER_OPTIONS.values() for o in options)


def make_optimizer(
    name: str, lr: float, entry: str = "optimizer", lr_entry: str = "lr", **options: float | None
) -> tf.compat.v1.train.Optimizer:
    """Return the `tf.compat.v1` optimizer called `name` with learning rate `lr`.

    Args:
      name: one of `OPTIMIZERS` ("adam", "sgd", "rmsprop", "adagrad").
      lr: the learning rate (> 0).
      entry: the config entry `name` came from, named in errors.
      lr_entry: the config entry `lr` came from, named in errors.
      **options: Adam's `beta1`, `beta2` (in [0, 1)) and RMSProp's `decay` (in [0, 1)); those
        the chosen optimizer does not take, and None values, are ignored.

    Raises:
      ConfigError: unknown optimizer name or option, a learning rate that is not a positive
        number, or an option outside [0, 1).
    """
    if name not in OPTIMIZERS:
        raise ConfigError(entry, f"one of {sorted(OPTIMIZERS)}", name)
    if isinstance(lr, bool) or not isinstance(lr, int | float) or not lr > 0:
        raise ConfigError(lr_entry, "a positive learning rate", lr)
    for key, value in options.items():
        if key not in KNOWN_OPTIONS:
            raise ConfigError(key, f"one of the optimizer options {sorted(KNOWN_OPTIONS)}", key)
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < 1
        ):
            raise ConfigError(key, "a number in [0, 1)", value)
    kwargs = {
        key: float(value)
        for key, value in options.items()
        if key in OPTIMIZER_OPTIONS[name] and value is not None
    }
    return OPTIMIZERS[name](float(lr), **kwargs)
