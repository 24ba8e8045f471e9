"""Numbers: a scalar or a fixed-shape array, stored as a FloatList or an Int64List.

``1.5 or [1, 2, 3] -> checked array of dtype and shape -> FloatList / Int64List -> tensor``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import tensorflow as tf

from reproml.errors import ConfigError, HandlerError
from reproml.records.example_codec import Column, float_column, int64_column, stack_uniform
from reproml.records.features import float_feature, int64_feature
from reproml.records.handler import FeatureHandler
from reproml.records.spec import FeatureSpec

# Float dtypes are stored as float32 (a FloatList), integer dtypes as int64 (an Int64List);
# float64 and uint64 are left out because those lists cannot hold them exactly.
FLOAT_DTYPES = ("float16", "float32")
INT_DTYPES = ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32")


class NumericHandler(FeatureHandler):
    """Checks a scalar or array of numbers against a shape and dtype.

    Accepted: Python ints and floats, NumPy scalars, and (nested) sequences or NumPy arrays of
    them, with exactly `shape` (``()`` for a scalar; ``[3.0]`` is not a scalar). Refused:
    booleans, strings, objects, a wrong shape, NaN/infinity (unless `allow_nan`), floats with a
    fractional part for an integer dtype, values outside the dtype's range, and integers a float
    dtype cannot hold exactly (e.g. 2**24 + 1 in float32).

    Args:
      shape: the shape of one value.
      dtype: one of `FLOAT_DTYPES` (stored as float32) or `INT_DTYPES` (stored as int64).
      allow_nan: also accept NaN and infinities (float dtypes only).
    """

    def __init__(
        self, shape: Sequence[int] = (), dtype: str = "float32", allow_nan: bool = False
    ) -> None:
        super().__init__(shape=shape)
        if min(self.shape, default=1) < 0:
            raise ConfigError("NumericHandler.shape", "non-negative dimensions", shape)
        if str(dtype) not in FLOAT_DTYPES + INT_DTYPES:
            raise ConfigError(
                "NumericHandler.dtype", f"one of {list(FLOAT_DTYPES + INT_DTYPES)}", dtype
            )
        self.dtype = np.dtype(str(dtype))
        if allow_nan and self.dtype.kind != "f":
            raise ConfigError("NumericHandler.allow_nan", "False for an integer dtype", allow_nan)
        self.allow_nan = bool(allow_nan)

    def transform(self, value: Any, key: str) -> np.ndarray:
        """Return `value` as an array of `dtype` and `shape`.

        Raises:
          HandlerError: not numbers, wrong shape, non-finite values or values the dtype cannot hold.
        """
        what = f"numbers of shape {self.shape} for dtype {self.dtype}"
        if isinstance(value, tf.Tensor | str | bytes):
            raise HandlerError(key, what, f"a {type(value).__name__}")
        try:
            array = np.asarray(value)
        except ValueError as err:  # ragged nested sequences
            raise HandlerError(key, what, f"a ragged {type(value).__name__} ({err})") from None
        if array.dtype.kind == "O" and array.size and all(_is_int(v) for v in array.flat):
            raise HandlerError(key, what, "integers beyond 64 bits")
        if array.dtype.kind not in "iuf":
            raise HandlerError(key, what, f"{type(value).__name__} of dtype {array.dtype}")
        self.check_shape(array, key)
        if not self.allow_nan:
            self.check_finite(array, key)
        return self._cast(array, key)

    def _cast(self, array: np.ndarray, key: str) -> np.ndarray:
        """Cast to `self.dtype`, refusing values that would change."""
        target = self.dtype
        if array.size == 0:
            return array.astype(target)
        if target.kind in "iu":
            if array.dtype.kind == "f" and not np.all(array == np.rint(array)):
                bad = array[array != np.rint(array)].flat[0]
                raise HandlerError(key, f"whole numbers for dtype {target}", f"{bad!r}")
            info = np.iinfo(target)
            if array.min() < info.min or array.max() > info.max:
                raise HandlerError(
                    key,
                    f"values in [{info.min}, {info.max}] for dtype {target}",
                    f"values in [{array.min()}, {array.max()}]",
                )
            return array.astype(target)
        finite = array[np.isfinite(array)] if array.dtype.kind == "f" else array
        limit = float(np.finfo(target).max)
        if finite.size and float(np.abs(finite).max()) > limit:
            raise HandlerError(
                key, f"|v| <= {limit:g} for dtype {target}", f"|v| up to {np.abs(finite).max():g}"
            )
        cast = array.astype(target)
        if array.dtype.kind in "iu" and not np.array_equal(cast.astype(array.dtype), array):
            bad = array[cast.astype(array.dtype) != array].flat[0]
            raise HandlerError(key, f"integers {target} holds exactly", f"{bad}")
        return cast

    def transform_batch(self, values: Sequence[Any], key: str) -> Sequence[np.ndarray] | np.ndarray:
        """Return every value transformed; a uniform shard is checked at once with NumPy.

        Uniform means arrays of one shape and dtype, or (for a scalar feature) plain Python
        floats or ints. Anything else, or any failed check, goes through `transform` value by
        value, so the error names the first bad row.
        """
        stacked = stack_uniform(values)
        if (
            stacked is None
            and self.shape == ()
            and values
            and {type(v) for v in values} <= {int, float}
        ):
            stacked = np.asarray(values)
        if stacked is None or stacked.dtype.kind not in "iuf" or stacked.shape[1:] != self.shape:
            return super().transform_batch(values, key)
        try:
            if not self.allow_nan:
                self.check_finite(stacked, key)
            return self._cast(stacked, key)
        except HandlerError:
            return super().transform_batch(values, key)

    def encode_batch(self, values: Sequence[np.ndarray] | np.ndarray, key: str) -> Column:
        """Return every value's FloatList / Int64List feature, built for the whole shard at once."""
        array = values if isinstance(values, np.ndarray) else np.stack(values)
        return float_column(array) if self.dtype.kind == "f" else int64_column(array)

    def encode(self, value: np.ndarray, key: str) -> tf.train.Feature:
        """Return a FloatList (float dtypes) or an Int64List (integer dtypes) of the values."""
        return float_feature(value) if self.dtype.kind == "f" else int64_feature(value)

    def spec(self) -> FeatureSpec:
        """Return ``FeatureSpec("float32" or "int64", dtype, shape)``."""
        encoding = "float32" if self.dtype.kind == "f" else "int64"
        return FeatureSpec(encoding, self.dtype.name, self.shape)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
