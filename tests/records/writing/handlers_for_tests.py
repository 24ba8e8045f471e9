"""Small module-level handlers for the serialization tests (picklable, so workers can use them)."""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from reproml.errors import HandlerError
from reproml.records.features import bytes_feature
from reproml.records.handler import FeatureHandler
from reproml.records.spec import FeatureSpec


class ArrayHandler(FeatureHandler):
    """Stores a fixed-shape array as raw bytes of `dtype`."""

    def __init__(self, shape: tuple[int, ...], dtype: str = "uint8") -> None:
        super().__init__(shape=shape)
        self.dtype = dtype

    def transform(self, value: Any, key: str) -> np.ndarray:
        array = np.asarray(value)
        self.check_shape(array, key)
        return array.astype(self.dtype)

    def encode(self, value: np.ndarray, key: str):
        return bytes_feature(value.tobytes())

    def spec(self) -> FeatureSpec:
        return FeatureSpec("tensor_bytes", self.dtype, self.shape)


class ClassLabelHandler(FeatureHandler):
    """Stores a class index (an int, or a class name that is looked up in `names`)."""

    def __init__(self, names: tuple[str, ...]) -> None:
        super().__init__()
        self.names = tuple(names)

    def transform(self, value: Any, key: str) -> int:
        if isinstance(value, str):
            if value not in self.names:
                raise HandlerError(key, f"a class name of {list(self.names)}", repr(value))
            return self.names.index(value)
        return int(value)

    def spec(self) -> FeatureSpec:
        return FeatureSpec("int64", "int64", (), names=self.names)


class FloatHandler(FeatureHandler):
    """Stores a float vector of a fixed shape as a FloatList."""

    def transform(self, value: Any, key: str) -> np.ndarray:
        array = np.asarray(value, dtype=np.float32)
        self.check_shape(array, key)
        self.check_finite(array, key)
        return array

    def spec(self) -> FeatureSpec:
        return FeatureSpec("float32", "float32", self.shape)


class SlowArrayHandler(ArrayHandler):
    """An `ArrayHandler` that sleeps `delay` seconds per row (to kill a write half-way)."""

    def __init__(self, shape: tuple[int, ...], dtype: str = "uint8", delay: float = 0.0) -> None:
        super().__init__(shape, dtype)
        self.delay = delay

    def transform(self, value: Any, key: str) -> np.ndarray:
        time.sleep(self.delay)
        return super().transform(value, key)
