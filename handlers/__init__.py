"""Concrete feature handlers: images, class labels, numbers, bytes and text."""

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
