"""Bounding boxes with a class label per box, and segmentation masks checked against their image.

Boxes: ``{"boxes": [[ymin, xmin, ymax, xmax], ...], "labels": [...]}`` (normalized to the
image: 0 <= min < max <= 1) ->

    key:        FloatList of 4n values -> float32 [n, 4] (one) / RaggedTensor [B, None, 4]
    key/label:  Int64List of n ids     -> int64 [n]     (one) / RaggedTensor [B, None]

Masks: a 2-D uint8 array (encoded to PNG here, losslessly) or a grey 8-bit PNG (path or
bytes, stored as it is), whose size must equal the size of the row's image; decoded like the
image (same size and size policy) but with nearest-neighbour resampling, so values (class or
instance ids) are never blended: uint8 [H, W, 1].

Boxes are normalized to the stored image; they stay right under the "resize" size policy
(which maps the whole image onto the model's size), not under "crop_or_pad" or
"resize_with_pad", which move the image inside the frame.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import tensorflow as tf
from PIL import Image

from handlers.encoded_image import EncodedImageHandler, open_encoded, read_encoded
from handlers.label import ClassLabelHandler
from reproml.errors import ConfigError, HandlerError
from reproml.records.composite_handler import CompositeHandler
from reproml.records.features import bytes_feature
from reproml.records.handler import FeatureHandler
from reproml.records.spec import SIZE_POLICIES, FeatureSpec

BOX_RULE = "boxes [ymin, xmin, ymax, xmax] with 0 <= ymin < ymax <= 1 and 0 <= xmin < xmax <= 1"


def _box_problem(box: np.ndarray) -> str | None:
    """Returns what is wrong with one normalized box, or None."""
    ymin, xmin, ymax, xmax = (float(v) for v in box)
    if not np.all(np.isfinite(box)):
        return "not finite"
    if min(ymin, xmin) < 0 or max(ymax, xmax) > 1:
        return "outside [0, 1]"
    if ymin >= ymax:
        return "ymin >= ymax"
    if xmin >= xmax:
        return "xmin >= xmax"
    return None


class BoxesHandler(CompositeHandler):
    """A variable number of normalized boxes per example, each with a class label.

    Args:
      names: the box classes in index order (or `num_classes`).
      num_classes: the number of box classes.
    """

    def __init__(self, names: Sequence[str] | None = None, num_classes: int | None = None) -> None:
        super().__init__(shape=(-1, 4))
        self.labels = ClassLabelHandler(names=names, num_classes=num_classes)

    def parts(self) -> dict[str, FeatureSpec]:
        """Returns the boxes' spec (float32 (-1, 4)) and the labels' (int64 (-1,), names)."""
        return {
            "": FeatureSpec("ragged_float32", "float32", (-1, 4)),
            "/label": FeatureSpec("ragged_int64", "int64", (-1,), self.labels.names),
        }

    def transform(self, value: Any, key: str) -> dict[str, np.ndarray]:
        """Returns the checked boxes (float32 [n, 4]) and their class ids (int64 [n]).

        Raises:
          HandlerError: not ``{"boxes": ..., "labels": ...}``, a box outside [0, 1] or with
            min >= max (names the box's index and values), a bad label, or counts that differ.
        """
        if not isinstance(value, Mapping) or set(value) != {"boxes", "labels"}:
            got = sorted(value) if isinstance(value, Mapping) else type(value).__name__
            raise HandlerError(
                key, '{"boxes": [[ymin, xmin, ymax, xmax], ...], "labels": [...]}', f"{got}"
            )
        try:
            boxes = np.asarray(value["boxes"], dtype=np.float64)
        except (ValueError, TypeError) as err:
            raise HandlerError(key, BOX_RULE, f"boxes that are not n x 4 numbers ({err})") from None
        if boxes.size == 0:
            boxes = boxes.reshape(0, 4)
        if boxes.ndim != 2 or boxes.shape[1] != 4:
            raise HandlerError(key, BOX_RULE, f"boxes of shape {list(boxes.shape)}")
        for index, box in enumerate(boxes):
            problem = _box_problem(box)
            if problem is not None:
                raise HandlerError(key, BOX_RULE, f"box {index} {box.tolist()} ({problem})")
        labels = list(value["labels"])
        if len(labels) != len(boxes):
            raise HandlerError(key, f"one label per box ({len(boxes)})", f"{len(labels)} labels")
        ids = []
        for index, label in enumerate(labels):
            try:
                ids.append(self.labels.transform(label, key))
            except HandlerError as err:
                raise HandlerError(key, err.expected, f"label of box {index}: {err.got}") from None
        return {"": boxes.astype(np.float32), "/label": np.array(ids, dtype=np.int64)}


class MaskHandler(FeatureHandler):
    """A segmentation mask (uint8 ids per pixel) of the row's image, stored as a PNG.

    Args:
      image_key: the row key of the image the mask belongs to (a path or PNG/JPEG bytes).
      size: (height, width) the mask is decoded to (the image's model size).
      size_policy: the image's size policy (see `SIZE_POLICIES`); resampling is nearest.
    """

    def __init__(self, image_key: str, size: Sequence[int], size_policy: str = "resize") -> None:
        size = tuple(size)
        if len(size) != 2 or not all(isinstance(d, int) and d >= 1 for d in size):
            raise ConfigError("MaskHandler.size", "(height, width) of positive ints", size)
        if size_policy not in SIZE_POLICIES:
            raise ConfigError(
                "MaskHandler.size_policy", f"one of {list(SIZE_POLICIES)}", size_policy
            )
        super().__init__(shape=(*size, 1))
        self.image_key = image_key
        self.size_policy = size_policy

    @classmethod
    def for_image(cls, image_key: str, image: EncodedImageHandler) -> MaskHandler:
        """Returns the mask handler decoding like `image` (its size and size policy)."""
        return cls(image_key, image.shape[:2], image.size_policy)

    def get_value(self, row: Mapping[str, Any], key: str) -> tuple[Any, Any]:
        """Returns ``(row[key], row[image_key])``: the mask and the image it must match."""
        mask = super().get_value(row, key)
        if self.image_key not in row:
            raise HandlerError(
                key, f"the row to hold its image under {self.image_key!r}", f"keys {sorted(row)}"
            )
        return mask, row[self.image_key]

    def transform(self, value: tuple[Any, Any], key: str) -> bytes:
        """Returns the mask's PNG bytes, checked to be grey 8-bit and of the image's size.

        Raises:
          HandlerError: not a uint8 2-D array or grey PNG, an unreadable file, or a size that
            is not the image's (names both sizes).
        """
        mask, image = value
        if isinstance(mask, np.ndarray):
            if mask.ndim != 2 or mask.dtype != np.uint8:
                raise HandlerError(
                    key, "a uint8 [H, W] mask or a grey PNG", f"{mask.dtype} {list(mask.shape)}"
                )
            out = io.BytesIO()
            Image.fromarray(mask, mode="L").save(out, "PNG")
            data, mask_size = out.getvalue(), (mask.shape[1], mask.shape[0])
        else:
            data, name = read_encoded(mask, key)
            with open_encoded(data, name, key) as opened:
                if opened.format != "PNG" or opened.mode != "L":
                    raise HandlerError(
                        key,
                        "a grey 8-bit PNG mask (mode L)",
                        f"a {opened.format} of mode {opened.mode}: {name}",
                    )
                mask_size = opened.size
        image_data, image_name = read_encoded(image, self.image_key)
        try:
            with Image.open(io.BytesIO(image_data)) as opened_image:  # reads the header only
                image_size = opened_image.size
        except (OSError, ValueError, SyntaxError) as err:
            raise HandlerError(
                key, f"a readable image under {self.image_key!r}", f"{image_name} ({err})"
            ) from err
        if mask_size != image_size:
            raise HandlerError(
                key,
                f"a mask of its image's size {image_size[1]}x{image_size[0]} (HxW, {image_name})",
                f"{mask_size[1]}x{mask_size[0]}",
            )
        return data

    def encode(self, value: bytes, key: str) -> tf.train.Feature:
        """Returns the PNG bytes as one BytesList entry."""
        return bytes_feature(value)

    def spec(self) -> FeatureSpec:
        """Returns ``FeatureSpec("encoded_image", "uint8", (H, W, 1))`` with nearest resampling."""
        return FeatureSpec(
            "encoded_image",
            "uint8",
            self.shape,
            size_policy=self.size_policy,
            interpolation="nearest",
        )
