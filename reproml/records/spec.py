"""What a stored feature looks like on disk and how it is decoded inside `tf.data`.

A `FeatureSpec` is written to the manifest by `write_records` and read back by the input
functions, so no reader ever writes a parse spec by hand::

    handler.spec() -> manifest.json -> FeatureSpec.parse_feature() -> tf.io.parse_example
                   -> FeatureSpec.decode(parsed) -> tensor of `dtype` and `shape`

`decode` works on one example or on a batch (a leading batch dimension is kept), so it can be
used eagerly, inside `tf.data.Dataset.map`, or after a batched `parse_example`.

Two families of layout beyond fixed-length values:

* ``encoded_image``: the PNG/JPEG bytes of a file, as they were; `decode` runs
  ``tf.io.decode_image`` with a fixed channel count (the last entry of `shape`) and brings the
  image to ``shape[:2]`` by the declared `size_policy` (`SIZE_POLICIES`) with `interpolation`.
  With ``decode_scale="auto"`` (`DECODE_SCALES`) a JPEG is decoded by libjpeg's DCT-domain
  downscaling at the largest ``ratio`` in 1, 2, 4, 8 that keeps it at least ``shape[:2]``
  (from its header), then resized: less decode work, pixels that differ slightly from a full
  decode, the same on every run (a recorded policy, like `size_policy`).
* ``ragged_int64`` / ``ragged_float32`` / ``ragged_bytes``: a variable number of values per
  example. `shape` is ``(-1, *inner)``: -1 for the variable length, then fixed inner dims (a
  box is ``(-1, 4)``). One example decodes to a dense ``[n, *inner]`` tensor, a batch to a
  ``tf.RaggedTensor`` ``[B, None, *inner]``. With ``decode_as="multi_hot"`` (class ids with
  `names`) both decode to a dense float32 multi-hot ``[num_classes]`` (``[B, num_classes]``).
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
#   encoded_image: one BytesList entry holding a PNG or JPEG file's bytes, decoded in the graph
#   ragged_int64 / ragged_float32 / ragged_bytes: a variable-length list (n * prod(inner) values)
ENCODINGS = (
    "tensor_bytes",
    "int64",
    "float32",
    "bytes",
    "encoded_image",
    "ragged_int64",
    "ragged_float32",
    "ragged_bytes",
)
RAGGED_ENCODINGS = ("ragged_int64", "ragged_float32", "ragged_bytes")
# How an encoded image of any size is brought to the spec's (H, W):
#   resize:          tf.image.resize to (H, W) (aspect ratio not kept)
#   resize_with_pad: tf.image.resize_with_pad (aspect kept, zero bands added)
#   crop_or_pad:     tf.image.resize_with_crop_or_pad (centre crop / zero pad, no resampling)
SIZE_POLICIES = ("resize", "resize_with_pad", "crop_or_pad")
INTERPOLATIONS = ("bilinear", "nearest")
# How much of an encoded image is decoded before the size policy:
#   full: every pixel (tf.io.decode_image)
#   auto: a JPEG at 1/ratio of its size, ratio the largest of JPEG_RATIOS with the decoded
#         image still >= (H, W); PNGs in full. Only with the resampling size policies.
DECODE_SCALES = ("full", "auto")
JPEG_RATIOS = (1, 2, 4, 8)
DECODE_AS = ("multi_hot",)


@dataclasses.dataclass(frozen=True)
class FeatureSpec:
    """Serialized layout and decoded dtype/shape of one feature.

    Attributes:
      encoding: one of `ENCODINGS`.
      dtype: NumPy name of the decoded dtype ("uint8", "float32", "int64", "string", ...).
      shape: decoded shape of one example (empty tuple for a scalar).
      names: class names for a class-label feature (its values are indices into `names`).
      size_policy: for ``encoded_image``, how an image is brought to ``shape[:2]``
        (one of `SIZE_POLICIES`).
      interpolation: for ``encoded_image``, "bilinear" (images) or "nearest" (masks).
      decode_as: for ``ragged_int64`` class ids, "multi_hot" decodes to a float32
        ``[num_classes]`` vector; None keeps the ids.
      decode_scale: for ``encoded_image``, one of `DECODE_SCALES` (None, in manifests written
        before it existed, is "full").
    """

    encoding: str
    dtype: str
    shape: tuple[int, ...] = ()
    names: tuple[str, ...] | None = None
    size_policy: str | None = None
    interpolation: str | None = None
    decode_as: str | None = None
    decode_scale: str | None = None

    def __post_init__(self) -> None:
        if self.encoding not in ENCODINGS:
            raise ValueError(f"encoding must be one of {ENCODINGS}, got {self.encoding!r}")
        object.__setattr__(self, "shape", tuple(int(d) for d in self.shape))
        if self.names is not None:
            object.__setattr__(self, "names", tuple(self.names))
        if self.encoding == "encoded_image":
            if len(self.shape) != 3 or min(self.shape) < 1 or self.shape[2] not in (1, 3, 4):
                raise ValueError(
                    f"an encoded_image needs shape (H, W, C), C in 1/3/4: {self.shape}"
                )
            if self.size_policy not in SIZE_POLICIES:
                raise ValueError(
                    f"size_policy must be one of {SIZE_POLICIES}: {self.size_policy!r}"
                )
            if self.interpolation not in INTERPOLATIONS:
                raise ValueError(
                    f"interpolation must be one of {INTERPOLATIONS}: {self.interpolation!r}"
                )
            if self.decode_scale not in (None, *DECODE_SCALES):
                raise ValueError(
                    f"decode_scale must be one of {DECODE_SCALES}: {self.decode_scale!r}"
                )
            if self.decode_scale == "auto" and self.size_policy == "crop_or_pad":
                raise ValueError("decode_scale 'auto' needs a resampling size_policy")
        elif (self.size_policy, self.interpolation, self.decode_scale) != (None, None, None):
            raise ValueError("size_policy, interpolation, decode_scale are for encoded_image only")
        if self.decode_as is not None and (
            self.decode_as not in DECODE_AS or self.encoding != "ragged_int64" or not self.names
        ):
            raise ValueError(f"decode_as must be one of {DECODE_AS}, for ragged_int64 with names")
        if self.encoding in RAGGED_ENCODINGS and self.decode_as is None:
            if not self.shape or self.shape[0] != -1 or min(self.shape[1:], default=1) < 1:
                raise ValueError(f"a ragged spec needs shape (-1, *inner dims): {self.shape}")

    @property
    def stored_inner_shape(self) -> tuple[int, ...]:
        """The fixed dims after the variable length of a ragged feature (``()`` for a list)."""
        return () if self.decode_as is not None else self.shape[1:]

    @property
    def decodes_per_example(self) -> bool:
        """True when the feature is decoded one example at a time (an encoded image).

        Input pipelines decode such features in a parallel map before batching (see
        `reproml.records.batch_decode`): a ``tf.map_fn`` over a batch is about 3x slower.
        """
        return self.encoding == "encoded_image"

    @property
    def num_classes(self) -> int | None:
        """Number of classes of a class-label feature, else None."""
        return None if self.names is None else len(self.names)

    @property
    def tf_dtype(self) -> tf.DType:
        """The decoded TensorFlow dtype."""
        import tensorflow as tf

        return tf.string if self.dtype == "string" else tf.as_dtype(np.dtype(self.dtype))

    def parse_feature(self) -> tf.io.FixedLenFeature | tf.io.RaggedFeature:
        """Returns the `tf.io.parse_example` spec of this feature."""
        import tensorflow as tf

        if self.encoding in ("tensor_bytes", "encoded_image"):
            return tf.io.FixedLenFeature([], tf.string)
        parsed = {"int64": tf.int64, "float32": tf.float32, "bytes": tf.string}[
            self.encoding.removeprefix("ragged_")
        ]
        if self.encoding in RAGGED_ENCODINGS:
            # Outermost first: (-1, a, b) groups the flat values in rows of b, then rows of a.
            partitions = [tf.io.RaggedFeature.UniformRowLength(d) for d in self.stored_inner_shape]
            return tf.io.RaggedFeature(parsed, partitions=partitions, row_splits_dtype=tf.int64)
        return tf.io.FixedLenFeature(list(self.shape), parsed)

    def decode(self, parsed: tf.Tensor | tf.RaggedTensor) -> tf.Tensor | tf.RaggedTensor:
        """Decodes the output of `parse_example`/`parse_single_example` for this feature."""
        import tensorflow as tf

        if self.encoding == "encoded_image":
            return self._decode_images(parsed)
        if self.encoding in RAGGED_ENCODINGS:
            if self.decode_as == "multi_hot":
                ids = parsed.to_tensor(-1) if isinstance(parsed, tf.RaggedTensor) else parsed
                return tf.reduce_sum(tf.one_hot(ids, len(self.names), dtype=tf.float32), axis=-2)
            return parsed if self.dtype == "string" else tf.cast(parsed, self.tf_dtype)
        if self.encoding == "tensor_bytes":
            raw = tf.io.decode_raw(parsed, self.tf_dtype, little_endian=True)
            shape = tf.concat([tf.shape(raw)[:-1], tf.constant(self.shape, tf.int32)], axis=0)
            return tf.reshape(raw, shape)
        if self.encoding == "bytes":
            return parsed
        return tf.cast(parsed, self.tf_dtype)

    def _decode_images(self, parsed: tf.Tensor) -> tf.Tensor:
        """Decodes one encoded image (a scalar string) or a batch ([B] strings) to `shape`."""
        import tensorflow as tf

        if parsed.shape.rank == 0:
            return self._decode_image(parsed)
        signature = tf.TensorSpec(self.shape, self.tf_dtype)
        return tf.map_fn(self._decode_image, parsed, fn_output_signature=signature)

    def _decode_image(self, encoded: tf.Tensor) -> tf.Tensor:
        import tensorflow as tf

        height, width, channels = self.shape
        image = self._decode_pixels(encoded)
        method = {"bilinear": "bilinear", "nearest": "nearest"}[self.interpolation]
        if self.size_policy == "crop_or_pad":
            image = tf.image.resize_with_crop_or_pad(image, height, width)
        elif self.size_policy == "resize_with_pad":
            image = tf.image.resize_with_pad(image, height, width, method=method)
        else:
            image = tf.image.resize(image, [height, width], method=method)
        if image.dtype != self.tf_dtype:  # resampled in float: round back to the stored dtype
            image = tf.saturate_cast(tf.round(image), self.tf_dtype)
        return tf.ensure_shape(image, self.shape)

    def _decode_pixels(self, encoded: tf.Tensor) -> tf.Tensor:
        """Decodes one image's pixels at full size, or a JPEG scaled down by `decode_scale`."""
        import tensorflow as tf

        channels = self.shape[2]

        def full() -> tf.Tensor:
            return tf.io.decode_image(
                encoded, channels=channels, dtype=self.tf_dtype, expand_animations=False
            )

        if self.decode_scale != "auto":
            return full()

        def scaled_jpeg() -> tf.Tensor:
            stored = tf.cast(tf.image.extract_jpeg_shape(encoded)[:2], tf.int32)
            fits = tf.reduce_min(stored // tf.constant(self.shape[:2], tf.int32))
            # index into JPEG_RATIOS of the largest ratio r with stored size >= r * (H, W)
            branch = tf.add_n([tf.cast(fits >= r, tf.int32) for r in JPEG_RATIOS[1:]])
            decoders = [
                lambda ratio=ratio: tf.io.decode_jpeg(encoded, channels=channels, ratio=ratio)
                for ratio in JPEG_RATIOS
            ]
            return tf.switch_case(branch, decoders)

        return tf.cond(tf.io.is_jpeg(encoded), scaled_jpeg, full)

    def to_json(self) -> dict[str, Any]:
        """Returns the manifest form of this spec (fields that are None are left out)."""
        out: dict[str, Any] = {
            "encoding": self.encoding,
            "dtype": self.dtype,
            "shape": list(self.shape),
        }
        for name in ("names", "size_policy", "interpolation", "decode_as", "decode_scale"):
            value = getattr(self, name)
            if value is not None:
                out[name] = list(value) if name == "names" else value
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FeatureSpec:
        """Reads a spec written by `to_json`."""
        return cls(
            encoding=data["encoding"],
            dtype=data["dtype"],
            shape=tuple(data.get("shape", ())),
            names=tuple(data["names"]) if data.get("names") is not None else None,
            size_policy=data.get("size_policy"),
            interpolation=data.get("interpolation"),
            decode_as=data.get("decode_as"),
            decode_scale=data.get("decode_scale"),
        )


def parse_spec(
    specs: dict[str, FeatureSpec],
) -> dict[str, tf.io.FixedLenFeature | tf.io.RaggedFeature]:
    """Returns the `tf.io.parse_example` spec for a mapping of key -> FeatureSpec."""
    return {key: spec.parse_feature() for key, spec in specs.items()}


def decode_example(
    specs: dict[str, FeatureSpec], parsed: dict[str, tf.Tensor]
) -> dict[str, tf.Tensor]:
    """Decodes every parsed feature (one example or a batch)."""
    return {key: specs[key].decode(value) for key, value in parsed.items()}
