"""`CompositeHandler`: a handler that stores one row value as several features.

An encoded image is stored as its bytes plus its height, width, channels and sha256; a set of
boxes as the boxes plus a label per box. The flow::

    row[key] -> transform -> {suffix: value} -> {key + suffix: tf.train.Feature}
    manifest: {key + suffix: FeatureSpec} (from `parts`) -> parse -> decode per feature

The suffix ``""`` is the feature named `key` itself; the others read ``"/height"`` etc., so the
features of ``image`` are ``image``, ``image/height``, ... Each part is encoded by its spec's
encoding (`encode_part`), so an empty list is stored as an empty list of the right type.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import tensorflow as tf

from reproml.errors import HandlerError
from reproml.records import example_codec
from reproml.records.features import bytes_feature, float_feature, int64_feature
from reproml.records.handler import FeatureHandler
from reproml.records.spec import FeatureSpec


def encode_part(spec: FeatureSpec, value: Any) -> tf.train.Feature:
    """Returns the `tf.train.Feature` of `value` laid out as `spec` says (flattened, C order).

    The list type comes from the spec, not from the value, so an empty list is stored as an
    empty list of the spec's type (`to_feature` cannot infer the type of an empty list).
    """
    if spec.encoding in ("int64", "ragged_int64"):
        return int64_feature(np.asarray(value, dtype=np.int64))
    if spec.encoding in ("float32", "ragged_float32"):
        return float_feature(np.asarray(value, dtype=np.float32))
    if isinstance(value, bytes | str):
        return bytes_feature(value)
    return bytes_feature(list(value))


class CompositeHandler(FeatureHandler):
    """Base class of handlers that emit ``{key + suffix: feature}`` for every suffix of `parts`.

    Subclasses define `parts` (suffix -> FeatureSpec, with ``""`` for the main feature) and
    `transform` (value -> ``{suffix: value}``, the same suffixes).
    """

    def parts(self) -> dict[str, FeatureSpec]:
        """Returns ``{suffix: FeatureSpec}`` of every feature stored; ``""`` is the main one."""
        raise NotImplementedError

    def spec(self) -> FeatureSpec:
        """Returns the main feature's spec."""
        return self.parts()[""]

    def feature_specs(self, key: str) -> dict[str, FeatureSpec]:
        """Returns ``{key + suffix: FeatureSpec}`` of every feature `handle` emits."""
        return {key + suffix: spec for suffix, spec in self.parts().items()}

    def handle(self, row: Mapping[str, Any], key: str) -> dict[str, tf.train.Feature]:
        """Returns ``{key + suffix: tf.train.Feature}`` for `row[key]`.

        Raises:
          HandlerError: the key is missing or the value is not what the handler expects.
        """
        return self._encode_parts(self.transform(self.get_value(row, key), key), key)

    def handle_batch(self, values: Sequence[Any], key: str) -> dict[str, example_codec.Column]:
        """Returns ``{key + suffix: column}`` of serialized features, one per value."""
        parts = self.parts()
        columns: dict[str, list[bytes]] = {key + suffix: [] for suffix in parts}
        for value in self.transform_batch(values, key):
            for name, feature in self._encode_parts(value, key).items():
                columns[name].append(feature.SerializeToString())
        return columns

    def _encode_parts(self, value: Mapping[str, Any], key: str) -> dict[str, tf.train.Feature]:
        parts = self.parts()
        if set(value) != set(parts):
            raise HandlerError(
                key, f"transform() to return the parts {sorted(parts)}", f"{sorted(value)}"
            )
        return {key + suffix: encode_part(parts[suffix], value[suffix]) for suffix in parts}
