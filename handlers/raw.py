"""Raw bytes and text: one bytes or str value stored as one BytesList entry, read as tf.string.

``b"..." or "text" (UTF-8) -> BytesList -> tf.string scalar``.
"""

from __future__ import annotations

from typing import Any

import tensorflow as tf

from reproml.errors import HandlerError
from reproml.records.features import bytes_feature
from reproml.records.handler import FeatureHandler
from reproml.records.spec import FeatureSpec


class BytesHandler(FeatureHandler):
    """Stores one `bytes` value (e.g. an encoded PNG, a hash) as a tf.string scalar.

    Accepts bytes (NumPy `bytes_` too), bytearray and memoryview; refuses str (use
    `StringHandler` for text, so its encoding is explicit) and anything else.
    """

    def __init__(self) -> None:
        super().__init__(shape=())

    def transform(self, value: Any, key: str) -> bytes:
        """Return `value` as bytes.

        Raises:
          HandlerError: `value` is not bytes-like.
        """
        if isinstance(value, bytes | bytearray | memoryview):
            return bytes(value)
        hint = " (use StringHandler for text)" if isinstance(value, str) else ""
        raise HandlerError(key, f"bytes{hint}", f"{type(value).__name__} {value!r:.60}")

    def encode(self, value: bytes, key: str) -> tf.train.Feature:
        """Return a BytesList holding the one value."""
        return bytes_feature(value)

    def spec(self) -> FeatureSpec:
        """Return ``FeatureSpec("bytes", "string", ())``."""
        return FeatureSpec("bytes", "string", ())


class StringHandler(BytesHandler):
    """Stores one `str` value as UTF-8 bytes in a tf.string scalar.

    Accepts str (NumPy `str_` too); refuses bytes (use `BytesHandler`), other types, and str
    that is not valid Unicode (lone surrogates cannot be encoded as UTF-8). Decode the tensor
    with ``tf.strings`` ops or ``.numpy().decode("utf-8")``.
    """

    def transform(self, value: Any, key: str) -> bytes:
        """Return `value` encoded as UTF-8.

        Raises:
          HandlerError: `value` is not a str, or cannot be encoded as UTF-8.
        """
        if not isinstance(value, str):
            hint = " (use BytesHandler for bytes)" if isinstance(value, bytes) else ""
            raise HandlerError(key, f"a str{hint}", f"{type(value).__name__} {value!r:.60}")
        try:
            return value.encode("utf-8")
        except UnicodeEncodeError as err:
            raise HandlerError(
                key, "a str that UTF-8 can encode", f"{value!r:.60} ({err.reason})"
            ) from None
