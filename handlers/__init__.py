"""Concrete feature handlers: images (raw or encoded), class labels, numbers, bytes and text."""

from handlers.encoded_image import EncodedImageHandler
from handlers.image import ImageArrayHandler, ImageFileHandler
from handlers.label import ClassLabelHandler
from handlers.numeric import NumericHandler
from handlers.raw import BytesHandler, StringHandler

__all__ = [
    "BytesHandler",
    "ClassLabelHandler",
    "EncodedImageHandler",
    "ImageArrayHandler",
    "ImageFileHandler",
    "NumericHandler",
    "StringHandler",
]
