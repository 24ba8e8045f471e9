"""`FeatureHandler`: turns one field of a raw row into `tf.train.Feature`s, and says how to read it back.

The whole flow of one feature::

    row[key] -> transform (validate, convert) -> encode -> {key: tf.train.Feature} -> TFRecord
    TFRecord -> spec().parse_feature() -> tf.io.parse_example -> spec().decode -> tensor

`delegate_to` composes handlers: a handler's transformed value is handed to the next handler
as ``{key: value}``, and the last handler of the chain encodes it and defines the spec. For
example ``ImageFileHandler(delegate_to=ImageArrayHandler(shape=[28, 28, 1]))`` reads a PNG path
into an array, which the array handler resizes, checks and stores as raw bytes.

Subclasses override `transform` (and, for the encoding end of a chain, `spec` and possibly
`encode`); `handle(row, key)` is the public entry point for one row. `write_records` calls
`handle_batch(values, key)` once per shard: by default the same per-value work, which handlers
may vectorize (`transform_batch`, `encode_batch`) as long as the bytes stay the same.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import tensorflow as tf

from reproml.errors import HandlerError
from reproml.records import example_codec
from reproml.records.features import to_feature
from reproml.records.spec import FeatureSpec


class FeatureHandler:
    """Base class of every handler.

    Args:
      delegate_to: the next handler of a chain, or None if this handler encodes the value.
      shape: the shape this handler produces for one example (empty for a scalar).
    """

    def __init__(
        self, delegate_to: FeatureHandler | None = None, shape: Sequence[int] = ()
    ) -> None:
        self.delegate_to = delegate_to
        self.shape = tuple(int(d) for d in shape)

    def handle(self, row: Mapping[str, Any], key: str) -> dict[str, tf.train.Feature]:
        """Returns ``{key: tf.train.Feature}`` for `row[key]`.

        Raises:
          HandlerError: the key is missing or the value is not what the handler expects.
        """
        value = self.transform(self.get_value(row, key), key)
        if self.delegate_to is not None:
            return self.delegate_to.handle({key: value}, key)
        return {key: self.encode(value, key)}

    def handle_batch(self, values: Sequence[Any], key: str) -> dict[str, example_codec.Column]:
        """Returns ``{key: column}``: one serialized `tf.train.Feature` per value (one shard's).

        The bytes equal ``handle({key: value}, key)[key].SerializeToString()`` for every value;
        the column is a 2-D uint8 array when the handler encodes fixed-length features in bulk.

        Raises:
          HandlerError: with `row` set to the index of the first bad value in `values`.
        """
        transformed = self.transform_batch(values, key)
        if self.delegate_to is not None:
            return self.delegate_to.handle_batch(transformed, key)
        return {key: self.encode_batch(transformed, key)}

    def transform_batch(self, values: Sequence[Any], key: str) -> Sequence[Any]:
        """Returns `transform` of every value; a HandlerError names the value's index as its row."""
        out = []
        for index, value in enumerate(values):
            try:
                out.append(self.transform(value, key))
            except HandlerError as err:
                raise err.at_row(err.split, index) from None
        return out

    def encode_batch(self, values: Sequence[Any], key: str) -> example_codec.Column:
        """Returns the serialized `encode` of every transformed value."""
        return [self.encode(value, key).SerializeToString() for value in values]

    def get_value(self, row: Mapping[str, Any], key: str) -> Any:
        """Returns `row[key]`, raising a HandlerError naming the key when it is missing."""
        try:
            return row[key]
        except (KeyError, IndexError, TypeError):
            keys = sorted(row) if isinstance(row, Mapping) else type(row).__name__
            raise HandlerError(key, "the row to have this key", f"a row with keys {keys}") from None

    def transform(self, value: Any, key: str) -> Any:
        """Validates and converts the value; the identity by default."""
        return value

    def encode(self, value: Any, key: str) -> tf.train.Feature:
        """Encodes the transformed value; `to_feature` by default."""
        return to_feature(value, key)

    def spec(self) -> FeatureSpec:
        """Returns the on-disk layout and decoded dtype/shape (the chain's last handler's)."""
        if self.delegate_to is not None:
            return self.delegate_to.spec()
        raise NotImplementedError(
            f"{type(self).__name__} encodes values itself, so it must define spec() "
            "(or pass delegate_to=... a handler that does)"
        )

    def feature_specs(self, key: str) -> dict[str, FeatureSpec]:
        """Returns ``{key: FeatureSpec}`` for every feature `handle` emits under `key`."""
        return {key: self.spec()}

    def decode(self, parsed: tf.Tensor) -> tf.Tensor:
        """Decodes a parsed tensor of this handler's feature (one example or a batch)."""
        return self.spec().decode(parsed)

    def describe(self) -> str:
        """Returns the handler chain's name for the manifest, e.g. ``ImageFileHandler>ImageArrayHandler``."""
        name = f"{type(self).__module__}.{type(self).__qualname__}"
        return name if self.delegate_to is None else f"{name}>{self.delegate_to.describe()}"

    # Validation helpers shared by the concrete handlers.

    def check_shape(self, array: np.ndarray, key: str, shape: Sequence[int] | None = None) -> None:
        """Raises a HandlerError if `array.shape` is not `shape` (default: `self.shape`)."""
        expected = tuple(self.shape if shape is None else shape)
        if tuple(array.shape) != expected:
            raise HandlerError(key, f"shape {expected}", f"shape {tuple(array.shape)}")

    @staticmethod
    def check_finite(array: np.ndarray, key: str) -> None:
        """Raises a HandlerError if a float array holds NaN or infinity."""
        if array.dtype.kind == "f" and not np.all(np.isfinite(array)):
            bad = int(np.size(array) - np.count_nonzero(np.isfinite(array)))
            raise HandlerError(key, "finite values (no NaN or inf)", f"{bad} non-finite value(s)")
