"""What a stored feature looks like on disk and how it is decoded inside `tf.data`.

A `FeatureSpec` is written to the manifest by `write_records` and read back by the input
functions, so no reader ever writes a parse spec by hand::

    handler.spec() -> manifest.json -> FeatureSpec.parse_feature() -> tf.io.parse_example
                   -> FeatureSpec.decode(parsed) -> tensor of `dtype` and `shape`

`decode` works on one example or on a batch (a leading batch dimension is kept), so it can be
used eagerly, inside `tf.data.Dataset.map`, or after a batched `parse_example`.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # TensorFlow is imported where a spec is used in a graph, not to read one
    import tensorflow as tf

# How the value is laid out in the tf.train.Example:
#   tensor_bytes: one BytesList entry holding the raw C-order bytes of an array (little endian)
#   int64 / float32: an Int64List / FloatList of prod(shape) values
#   bytes: a BytesList of prod(shape) strings, decoded to tf.string
ENCODINGS = ("tensor_bytes", "int64", "float32", "bytes")


@dataclasses.dataclass(frozen=True)
class FeatureSpec:
    """Serialized layout and decoded dtype/shape of one feature.

    Attributes:
      encoding: one of `ENCODINGS`.
      dtype: NumPy name of the decoded dtype ("uint8", "float32", "int64", "string", ...).
      shape: decoded shape of one example (empty tuple for a scalar).
      names: class names for a class-label feature (its values are indices into `names`).
    """

    encoding: str
    dtype: str
    shape: tuple[int, ...] = ()
    names: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if self.encoding not in ENCODINGS:
            raise ValueError(f"encoding must be one of {ENCODINGS}, got {self.encoding!r}")
        object.__setattr__(self, "shape", tuple(int(d) for d in self.shape))
        if self.names is not None:
            object.__setattr__(self, "names", tuple(self.names))

    @property
    def num_classes(self) -> int | None:
        """Number of classes of a class-label feature, else None."""
        return None if self.names is None else len(self.names)

    @property
    def tf_dtype(self) -> tf.DType:
        """The decoded TensorFlow dtype."""
        import tensorflow as tf

        return tf.string if self.dtype == "string" else tf.as_dtype(np.dtype(self.dtype))

    def parse_feature(self) -> tf.io.FixedLenFeature:
        """Returns the `tf.io.parse_example` spec of this feature."""
        import tensorflow as tf

        if self.encoding == "tensor_bytes":
            return tf.io.FixedLenFeature([], tf.string)
        parsed = {"int64": tf.int64, "float32": tf.float32, "bytes": tf.string}[self.encoding]
        return tf.io.FixedLenFeature(list(self.shape), parsed)

    def decode(self, parsed: tf.Tensor) -> tf.Tensor:
        """Decodes the output of `parse_example`/`parse_single_example` for this feature."""
        import tensorflow as tf

        if self.encoding == "tensor_bytes":
            raw = tf.io.decode_raw(parsed, self.tf_dtype, little_endian=True)
            shape = tf.concat([tf.shape(raw)[:-1], tf.constant(self.shape, tf.int32)], axis=0)
            return tf.reshape(raw, shape)
        if self.encoding == "bytes":
            return parsed
        return tf.cast(parsed, self.tf_dtype)

    def to_json(self) -> dict[str, Any]:
        """Returns the manifest form of this spec."""
        out: dict[str, Any] = {
            "encoding": self.encoding,
            "dtype": self.dtype,
            "shape": list(self.shape),
        }
        if self.names is not None:
            out["names"] = list(self.names)
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FeatureSpec:
        """Reads a spec written by `to_json`."""
        return cls(
            encoding=data["encoding"],
            dtype=data["dtype"],
            shape=tuple(data.get("shape", ())),
            names=tuple(data["names"]) if data.get("names") is not None else None,
        )


def parse_spec(specs: dict[str, FeatureSpec]) -> dict[str, tf.io.FixedLenFeature]:
    """Returns the `tf.io.parse_example` spec for a mapping of key -> FeatureSpec."""
    return {key: spec.parse_feature() for key, spec in specs.items()}


def decode_example(
    specs: dict[str, FeatureSpec], parsed: dict[str, tf.Tensor]
) -> dict[str, tf.Tensor]:
    """Decodes every parsed feature (one example or a batch)."""
    return {key: specs[key].decode(value) for key, value in parsed.items()}
