"""Class labels: an int or a class name from a fixed vocabulary, stored as one int64.

``3 or "cat" -> index in [0, num_classes) -> Int64List -> tf.int64 scalar``; the class names
travel with the data in the spec (and so in the manifest).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import tensorflow as tf

from reproml.errors import ConfigError, HandlerError
from reproml.records.example_codec import Column, int64_column
from reproml.records.features import int64_feature
from reproml.records.handler import FeatureHandler
from reproml.records.spec import FeatureSpec

_MAX_NAMES_SHOWN = 12


# Value types a shard of labels may be made of for the vectorized path (bool is excluded).
_PLAIN_INTS = {
    int,
    np.int8,
    np.int16,
    np.int32,
    np.int64,
    np.uint8,
    np.uint16,
    np.uint32,
    np.uint64,
}


class ClassLabelHandler(FeatureHandler):
    """Maps a class index or class name to an int64 index in ``[0, num_classes)``.

    Give `names`, `num_classes` or both (then ``len(names) == num_classes``). With only
    `num_classes`, the names are ``"0" .. "n-1"``. Python and NumPy integers (also 0-d integer
    arrays) are indices; str values are names. Booleans, floats, unknown names and indices out of
    range are refused.

    Args:
      names: the class names in index order (unique, non-empty strings).
      num_classes: the number of classes.
    """

    def __init__(self, names: Sequence[str] | None = None, num_classes: int | None = None) -> None:
        super().__init__(shape=())
        if names is None and num_classes is None:
            raise ConfigError("ClassLabelHandler", "names=[...] or num_classes=N", None)
        if names is not None:
            if isinstance(names, str) or not all(isinstance(n, str) and n for n in names):
                raise ConfigError("ClassLabelHandler.names", "a sequence of non-empty str", names)
            names = tuple(names)
            if len(set(names)) != len(names) or not names:
                raise ConfigError(
                    "ClassLabelHandler.names", "at least one name, no duplicates", names
                )
        if num_classes is not None:
            if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
                raise ConfigError("ClassLabelHandler.num_classes", "a positive int", num_classes)
            if names is not None and len(names) != num_classes:
                raise ConfigError(
                    "ClassLabelHandler.num_classes",
                    f"len(names) == {len(names)} when both are given",
                    num_classes,
                )
        self.names: tuple[str, ...] = (
            names if names is not None else tuple(map(str, range(num_classes)))
        )
        self._index = {name: i for i, name in enumerate(self.names)}

    @property
    def num_classes(self) -> int:
        """Number of classes."""
        return len(self.names)

    def _expected(self) -> str:
        shown = list(self.names[:_MAX_NAMES_SHOWN])
        names = repr(shown) if len(self.names) <= _MAX_NAMES_SHOWN else f"{repr(shown)[:-1]}, ...]"
        return f"one of {names} or an int in [0, {self.num_classes})"

    def transform(self, value: Any, key: str) -> int:
        """Return the class index of `value`.

        Raises:
          HandlerError: `value` is an unknown name, an int out of range, or not an int or str.
        """
        if isinstance(value, np.ndarray) and value.ndim == 0 and value.dtype.kind in "iuU":
            value = value[()]
        if isinstance(value, str):
            if value not in self._index:
                raise HandlerError(key, self._expected(), f"unknown class name {value!r}")
            return self._index[value]
        if isinstance(value, int | np.integer) and not isinstance(value, bool | np.bool_):
            if not 0 <= value < self.num_classes:
                raise HandlerError(key, self._expected(), f"{int(value)} (out of range)")
            return int(value)
        raise HandlerError(key, self._expected(), f"{value!r} ({type(value).__name__})")

    def transform_batch(self, values: Sequence[Any], key: str) -> Sequence[int] | np.ndarray:
        """Return every class index; a shard of plain ints or of names is mapped at once.

        Anything else, or any bad value, goes through `transform` value by value, so the error
        names the first bad row.
        """
        types = {type(v) for v in values}
        if types and types <= _PLAIN_INTS:
            indices = np.asarray(values, dtype=np.int64)
            if indices.min() >= 0 and indices.max() < self.num_classes:
                return indices
        elif types == {str}:
            indices = np.fromiter((self._index.get(v, -1) for v in values), np.int64, len(values))
            if indices.min() >= 0:
                return indices
        return super().transform_batch(values, key)

    def encode_batch(self, values: Sequence[int] | np.ndarray, key: str) -> Column:
        """Return every index's Int64List feature, built for the whole shard at once."""
        return int64_column(np.asarray(values, dtype=np.int64))

    def encode(self, value: int, key: str) -> tf.train.Feature:
        """Return an Int64List holding the class index."""
        return int64_feature(value)

    def spec(self) -> FeatureSpec:
        """Return ``FeatureSpec("int64", "int64", (), names=names)``."""
        return FeatureSpec("int64", "int64", (), names=self.names)
