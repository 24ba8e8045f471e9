"""The one place where Python and NumPy values become `tf.train.Feature`s.

Integers and booleans become an Int64List, floats a FloatList, bytes and str a BytesList
(str as UTF-8). Scalars, sequences and NumPy arrays of those are accepted; arrays are
flattened in C order. Anything else raises a `HandlerError` that names the key.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import tensorflow as tf

from reproml.errors import HandlerError

_ACCEPTED = "int, float, bool, bytes or str, or a sequence or NumPy array of one of those"


def bytes_feature(value: bytes | str | Sequence[bytes | str]) -> tf.train.Feature:
    """Returns a BytesList feature; str values are encoded as UTF-8."""
    values = [value] if isinstance(value, bytes | str) else list(value)
    return tf.train.Feature(
        bytes_list=tf.train.BytesList(
            value=[v.encode("utf-8") if isinstance(v, str) else bytes(v) for v in values]
        )
    )


def int64_feature(value: int | Sequence[int] | np.ndarray) -> tf.train.Feature:
    """Returns an Int64List feature of one integer or many."""
    values = np.asarray(value, dtype=np.int64).reshape(-1)
    return tf.train.Feature(int64_list=tf.train.Int64List(value=values.tolist()))


def float_feature(value: float | Sequence[float] | np.ndarray) -> tf.train.Feature:
    """Returns a FloatList feature of one float or many (stored as float32)."""
    values = np.asarray(value, dtype=np.float32).reshape(-1)
    return tf.train.Feature(float_list=tf.train.FloatList(value=values.tolist()))


def to_feature(value: Any, key: str) -> tf.train.Feature:
    """Converts `value` to a `tf.train.Feature` by its type.

    Args:
      value: a scalar, a sequence or a NumPy array of int, float, bool, bytes or str.
      key: the feature's key, named in any error.

    Returns:
      The feature holding `value` (flattened).

    Raises:
      HandlerError: `value` has no feature type (objects, None, mixed or empty sequences).
    """
    if isinstance(value, bytes | str):
        return bytes_feature(value)
    if isinstance(value, tf.Tensor):
        raise HandlerError(key, f"a NumPy or Python value ({_ACCEPTED})", "a tf.Tensor")
    array = np.asarray(value) if not isinstance(value, np.ndarray) else value
    kind = array.dtype.kind
    if array.size == 0 and not isinstance(value, np.ndarray):
        raise HandlerError(key, _ACCEPTED, "an empty sequence (its type cannot be inferred)")
    if kind in "biu":
        if kind == "u" and array.dtype.itemsize == 8 and array.size and array.max() > 2**63 - 1:
            raise HandlerError(key, "integers that fit in int64", f"{array.max()} (uint64)")
        return int64_feature(array)
    if kind == "f":
        return float_feature(array)
    if kind in "SU":
        return bytes_feature([v for v in array.reshape(-1).tolist()])
    if kind == "O" and all(isinstance(v, bytes | str) for v in array.reshape(-1)):
        return bytes_feature(list(array.reshape(-1)))
    raise HandlerError(key, _ACCEPTED, f"{type(value).__name__} of dtype {array.dtype}")
