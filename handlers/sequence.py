"""Variable-length features: a sequence of ints, floats or strings, and a set of class labels.

``[3, 1, 4] -> Int64List (n values) -> RaggedFeature -> int64 [n] (one) / RaggedTensor [B, None]``

``{"cat", "dog"} -> sorted class ids -> Int64List -> multi-hot float32 [num_classes]`` (or the ids)

The ragged spec (``shape = (-1, *inner)``) is derived from the handler and stored in the
manifest, so no reader writes a `VarLenFeature`/`RaggedFeature` by hand.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import tensorflow as tf

from handlers.label import ClassLabelHandler
from reproml.errors import ConfigError, HandlerError
from reproml.records.composite_handler import encode_part
from reproml.records.handler import FeatureHandler
from reproml.records.spec import FeatureSpec

SEQUENCE_DTYPES = {"int64": "ragged_int64", "float32": "ragged_float32", "string": "ragged_bytes"}


class SequenceHandler(FeatureHandler):
    """A variable number of values per example: ints, floats or strings (text tokens).

    Args:
      dtype: "int64", "float32" or "string" (str values, stored as UTF-8).
      inner_shape: fixed dims of each element (e.g. ``(2,)`` for a sequence of points).
    """

    def __init__(self, dtype: str = "int64", inner_shape: Sequence[int] = ()) -> None:
        if dtype not in SEQUENCE_DTYPES:
            raise ConfigError("SequenceHandler.dtype", f"one of {list(SEQUENCE_DTYPES)}", dtype)
        inner = tuple(inner_shape)
        if not all(isinstance(d, int) and d >= 1 for d in inner):
            raise ConfigError("SequenceHandler.inner_shape", "positive ints", inner_shape)
        if dtype == "string" and inner:
            raise ConfigError("SequenceHandler.inner_shape", "() for strings", inner_shape)
        super().__init__(shape=(-1, *inner))
        self.dtype = dtype

    def _expected(self) -> str:
        what = {"int64": "ints", "float32": "finite numbers", "string": "str"}[self.dtype]
        inner = f" of shape {list(self.shape[1:])} each" if len(self.shape) > 1 else ""
        return f"a sequence of {what}{inner}"

    def transform(self, value: Any, key: str) -> np.ndarray | list[bytes]:
        """Returns the values as an array of shape ``(n, *inner)`` (strings: UTF-8 bytes).

        Raises:
          HandlerError: not a sequence, values of the wrong type, NaN/inf, or the wrong inner
            shape.
        """
        unordered = isinstance(value, Mapping | set | frozenset)  # no order to keep
        if unordered or isinstance(value, str | bytes) or not isinstance(value, Iterable):
            raise HandlerError(key, self._expected(), f"{type(value).__name__} {value!r:.60}")
        if self.dtype == "string":
            items = list(value)
            bad = [v for v in items if not isinstance(v, str)]
            if bad:
                raise HandlerError(key, self._expected(), f"{type(bad[0]).__name__} {bad[0]!r:.60}")
            return [v.encode("utf-8") for v in items]
        try:
            array = np.asarray(value) if not isinstance(value, np.ndarray) else value
        except ValueError as err:  # ragged nested lists
            raise HandlerError(
                key, self._expected(), f"nested lists of unequal length ({err})"
            ) from None
        if array.size == 0:
            array = array.reshape((0, *self.shape[1:])).astype(self.dtype)
        kinds = "iu" if self.dtype == "int64" else "iuf"
        if array.dtype.kind not in kinds:
            raise HandlerError(key, self._expected(), f"values of dtype {array.dtype}")
        if array.shape[1:] != self.shape[1:] or array.ndim != len(self.shape):
            raise HandlerError(key, self._expected(), f"shape {list(array.shape)}")
        if self.dtype == "int64":
            if array.dtype.kind == "u" and array.size and array.max() > np.iinfo(np.int64).max:
                raise HandlerError(key, "ints that fit int64", f"{array.max()}")
            return array.astype(np.int64)
        self.check_finite(array, key)
        if array.size and np.abs(array).max() > np.finfo(np.float32).max:
            raise HandlerError(key, "values that fit float32", f"|v| up to {np.abs(array).max():g}")
        return array.astype(np.float32)

    def encode(self, value: Any, key: str) -> tf.train.Feature:
        """Returns the flattened values as one Int64List, FloatList or BytesList."""
        return encode_part(self.spec(), value)

    def spec(self) -> FeatureSpec:
        """Returns ``FeatureSpec("ragged_<type>", dtype, (-1, *inner))``."""
        return FeatureSpec(SEQUENCE_DTYPES[self.dtype], self.dtype, self.shape)


class MultiLabelHandler(FeatureHandler):
    """A set of class labels per example (names or indices), stored as sorted unique ids.

    Decodes to a float32 multi-hot vector ``[num_classes]`` (``decode_as="multi_hot"``, the
    default) or to the ids (``decode_as="ids"``: int64 ``[n]``, ragged in a batch). The class
    names are in the spec, so in the manifest. An empty set is allowed (all zeros).

    Args:
      names: the class names in index order.
      num_classes: the number of classes (names "0".."n-1" if `names` is not given).
      decode_as: "multi_hot" or "ids".
    """

    def __init__(
        self,
        names: Sequence[str] | None = None,
        num_classes: int | None = None,
        decode_as: str = "multi_hot",
    ) -> None:
        super().__init__(shape=(-1,))
        self.labels = ClassLabelHandler(names=names, num_classes=num_classes)
        if decode_as not in ("multi_hot", "ids"):
            raise ConfigError("MultiLabelHandler.decode_as", "'multi_hot' or 'ids'", decode_as)
        self.decode_as = decode_as

    @property
    def names(self) -> tuple[str, ...]:
        """The class names in index order."""
        return self.labels.names

    def transform(self, value: Any, key: str) -> np.ndarray:
        """Returns the sorted class ids of a set/sequence of names or indices.

        Raises:
          HandlerError: not a collection, an unknown name, an index out of range, or a class
            given twice (names the label's position).
        """
        if isinstance(value, str | bytes | Mapping) or not isinstance(value, Iterable):
            raise HandlerError(
                key,
                "a set or sequence of class names or indices",
                f"{type(value).__name__} {value!r:.60}",
            )
        items = sorted(value) if isinstance(value, set | frozenset) else list(value)
        ids = []
        for position, item in enumerate(items):
            try:
                ids.append(self.labels.transform(item, key))
            except HandlerError as err:
                raise HandlerError(key, err.expected, f"label {position}: {err.got}") from None
        if len(set(ids)) != len(ids):
            twice = sorted({self.names[i] for i in ids if ids.count(i) > 1})
            raise HandlerError(key, "each class at most once", f"{twice} more than once")
        return np.array(sorted(ids), dtype=np.int64)

    def encode(self, value: np.ndarray, key: str) -> tf.train.Feature:
        """Returns the ids as one Int64List."""
        return encode_part(self.spec(), value)

    def spec(self) -> FeatureSpec:
        """Returns the ragged int64 spec with the names, decoding to multi-hot or ids."""
        if self.decode_as == "multi_hot":
            return FeatureSpec(
                "ragged_int64", "float32", (len(self.names),), self.names, decode_as="multi_hot"
            )
        return FeatureSpec("ragged_int64", "int64", (-1,), self.names)
