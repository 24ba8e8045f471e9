"""Encoded images: a PNG or JPEG file's bytes stored as they are, decoded in the input pipeline.

The flow of an encoded image feature `key`::

    path or bytes -> PIL (format, size, mode; full decode to catch truncated files)
      -> key: the bytes, unchanged     key/height, key/width, key/channels: int64 (the file's)
                                       key/sha256: hex sha256 of the bytes
      -> tf.io.decode_image(channels=C) -> size policy (resize / resize_with_pad / crop_or_pad)
      -> uint8 [H, W, C]

Nothing is re-compressed: the stored bytes are the file's bytes, and ``key/sha256`` is the
hash of those bytes (per example, so one image can be checked against its source file). The
images of one dataset may have any size; the spec says the one size every image is decoded to
and how (`size_policy`), and the manifest records it.

Channels policy (decode time, by TensorFlow's decoders, recorded as the spec's C): with C = 3
a grey image is repeated to RGB, an alpha channel is dropped (not composited), a palette is
expanded, CMYK JPEGs are converted to RGB by libjpeg; with C = 1, colour becomes luma. 16-bit
PNGs are decoded to 8 bits (the high byte). TensorFlow decodes a JPEG to 1 or 3 channels only
(and a CMYK JPEG not to 1), so such a file is refused when written, naming it. ``key/channels`` records the file's own bands
(``len(PIL mode bands)``: grey 1, palette 1, RGBA 4, CMYK 4).
"""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from PIL import Image, UnidentifiedImageError

from reproml.errors import ConfigError, HandlerError
from reproml.records.composite_handler import CompositeHandler
from reproml.records.spec import DECODE_SCALES, INTERPOLATIONS, SIZE_POLICIES, FeatureSpec

# PIL's names of the formats TensorFlow's decode_image reads and this handler stores. "MPO" is
# the multi-picture JPEG many cameras write; TensorFlow decodes its first (main) picture.
ENCODED_FORMATS = {"PNG": "PNG", "JPEG": "JPEG", "MPO": "JPEG"}
_EXPECTED = "a readable PNG or JPEG file (a path, or its bytes)"


def read_encoded(value: Any, key: str) -> tuple[bytes, str]:
    """Returns ``(bytes, name)`` of a path or bytes value; `name` names it in errors.

    Raises:
      HandlerError: not a path or bytes, or the file is missing or cannot be read.
    """
    if isinstance(value, bytes | bytearray | memoryview):
        data = bytes(value)
        return data, f"{len(data)} bytes"
    if not isinstance(value, str | os.PathLike):
        raise HandlerError(key, _EXPECTED, f"a {type(value).__name__}")
    path = Path(value)
    if not path.is_file():
        raise HandlerError(
            key, _EXPECTED, f"{'a directory' if path.is_dir() else 'no such file'}: {path}"
        )
    try:
        return path.read_bytes(), str(path)
    except OSError as err:
        raise HandlerError(key, _EXPECTED, f"an unreadable file: {path} ({err})") from err


def open_encoded(data: bytes, name: str, key: str) -> Image.Image:
    """Returns the PIL image of PNG or JPEG bytes, fully decoded (so truncation is caught).

    Raises:
      HandlerError: the bytes are not a complete PNG or JPEG image; names `name`.
    """
    try:
        image = Image.open(io.BytesIO(data))
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as err:
        raise HandlerError(key, _EXPECTED, f"an unreadable file: {name} ({err})") from err
    if image.format not in ENCODED_FORMATS:
        image.close()
        raise HandlerError(key, _EXPECTED, f"a {image.format} file: {name}")
    try:
        image.load()
    except (OSError, ValueError, SyntaxError) as err:
        image.close()
        raise HandlerError(key, _EXPECTED, f"an unreadable file: {name} ({err})") from err
    return image


class EncodedImageHandler(CompositeHandler):
    """Stores a PNG or JPEG file's bytes unchanged, with its size, bands and sha256.

    Args:
      size: (height, width) every image is decoded to.
      channels: channels decoded (1 grey, 3 RGB, 4 RGBA); the conversion is TensorFlow's.
      size_policy: how an image of another size is brought to `size` (see `SIZE_POLICIES`).
      interpolation: "bilinear" (default) or "nearest" for the resampling policies.
      decode_scale: "full" (default: every pixel decoded) or "auto" (a JPEG decoded at 1/2,
        1/4 or 1/8 of its size by libjpeg when that is still at least `size`, then resized:
        faster, pixels slightly different from "full"; needs a resampling `size_policy`).
        Recorded in the manifest's spec, so a reader decodes as the writer declared.
    """

    def __init__(
        self,
        size: Sequence[int],
        channels: int = 3,
        size_policy: str = "resize",
        interpolation: str = "bilinear",
        decode_scale: str = "full",
    ) -> None:
        size = tuple(size)
        if len(size) != 2 or not all(isinstance(d, int) and d >= 1 for d in size):
            raise ConfigError("EncodedImageHandler.size", "(height, width) of positive ints", size)
        if channels not in (1, 3, 4):
            raise ConfigError("EncodedImageHandler.channels", "1, 3 or 4", channels)
        if size_policy not in SIZE_POLICIES:
            raise ConfigError(
                "EncodedImageHandler.size_policy", f"one of {list(SIZE_POLICIES)}", size_policy
            )
        if interpolation not in INTERPOLATIONS:
            raise ConfigError(
                "EncodedImageHandler.interpolation",
                f"one of {list(INTERPOLATIONS)}",
                interpolation,
            )
        if decode_scale not in DECODE_SCALES or (
            decode_scale == "auto" and size_policy == "crop_or_pad"
        ):
            raise ConfigError(
                "EncodedImageHandler.decode_scale",
                f"one of {list(DECODE_SCALES)} ('auto' with size_policy resize or resize_with_pad)",
                decode_scale,
            )
        super().__init__(shape=(*size, channels))
        self.size_policy = size_policy
        self.interpolation = interpolation
        self.decode_scale = decode_scale

    def parts(self) -> dict[str, FeatureSpec]:
        """Returns the image's spec and its per-example height, width, channels and sha256."""
        scalar = FeatureSpec("int64", "int64", ())
        return {
            "": FeatureSpec(
                "encoded_image",
                "uint8",
                self.shape,
                size_policy=self.size_policy,
                interpolation=self.interpolation,
                decode_scale=self.decode_scale,
            ),
            "/height": scalar,
            "/width": scalar,
            "/channels": scalar,
            "/sha256": FeatureSpec("bytes", "string", ()),
        }

    def transform(self, value: Any, key: str) -> dict[str, Any]:
        """Returns the bytes as they are, the image's height/width/bands and the bytes' sha256.

        Raises:
          HandlerError: not a path or bytes, a missing or unreadable file, or not PNG/JPEG
            (the message names the file).
        """
        data, name = read_encoded(value, key)
        with open_encoded(data, name, key) as image:
            width, height = image.size
            bands = len(image.getbands())
            file_format, mode = ENCODED_FORMATS[image.format], image.mode
        channels = self.shape[2]
        # TensorFlow's JPEG decoder gives 1 or 3 channels, and cannot turn CMYK into grey: such
        # a file would fail in the middle of training with an error that names no file.
        if file_format == "JPEG" and (channels == 4 or (channels == 1 and mode == "CMYK")):
            raise HandlerError(
                key,
                f"an image TensorFlow decodes to {channels} channel(s) (a JPEG decodes to 3,"
                " or to 1 unless it is CMYK)",
                f"a {mode} JPEG: {name}",
            )
        return {
            "": data,
            "/height": height,
            "/width": width,
            "/channels": bands,
            "/sha256": hashlib.sha256(data).hexdigest(),
        }
