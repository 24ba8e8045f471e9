"""Concrete feature handlers: images, class labels, numbers, bytes and text.

``import reproml`` comes first: it sets TensorFlow's C++ log level before `handlers.image`
imports TensorFlow (see reproml/__init__.py).
"""

import reproml  # noqa: F401  # isort: skip  (before TensorFlow loads: quiet start-up)
from handlers.image import ImageArrayHandler, ImageFileHandler
from handlers.label import ClassLabelHandler
from handlers.numeric import NumericHandler
from handlers.raw import BytesHandler, StringHandler

__all__ = [
    "BytesHandler",
    "ClassLabelHandler",
    "ImageArrayHandler",
    "ImageFileHandler",
    "NumericHandler",
    "StringHandler",
]
