"""Concrete feature handlers: images, labels (one or a set), boxes, masks, sequences, text.

``import reproml`` comes first: it sets TensorFlow's C++ log level before `handlers.image`
imports TensorFlow (see reproml/__init__.py).
"""

import reproml  # noqa: F401  # isort: skip  (before TensorFlow loads: quiet start-up)
from handlers.boxes import BoxesHandler, MaskHandler
from handlers.encoded_image import EncodedImageHandler
from handlers.image import ImageArrayHandler, ImageFileHandler
from handlers.label import ClassLabelHandler
from handlers.numeric import NumericHandler
from handlers.raw import BytesHandler, StringHandler
from handlers.sequence import MultiLabelHandler, SequenceHandler

__all__ = [
    "BoxesHandler",
    "BytesHandler",
    "ClassLabelHandler",
    "EncodedImageHandler",
    "ImageArrayHandler",
    "ImageFileHandler",
    "MaskHandler",
    "MultiLabelHandler",
    "NumericHandler",
    "SequenceHandler",
    "StringHandler",
]
