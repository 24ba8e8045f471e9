"""Exporting an Estimator as a SavedModel that serves raw uint8 images."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import tensorflow as tf

from reproml.errors import ConfigError
from reproml.models.classifier import IMAGE_KEY


def serving_input_fn(image_shape: Sequence[int]):  # noqa: ANN201 (an Estimator receiver fn)
    """Return a receiver fn taking ``image``: uint8 [None, H, W, C] -- what the input_fn yields."""
    shape = [None, *(int(d) for d in image_shape)]

    def receiver() -> tf.estimator.export.ServingInputReceiver:
        image = tf.compat.v1.placeholder(tf.uint8, shape=shape, name=IMAGE_KEY)
        return tf.estimator.export.ServingInputReceiver({IMAGE_KEY: image}, {IMAGE_KEY: image})

    return receiver


def export_classifier(
    estimator: tf.estimator.Estimator,
    export_dir_base: str | os.PathLike,
    image_shape: Sequence[int],
    checkpoint_path: str | None = None,
) -> Path:
    """Export the latest (or given) checkpoint as a SavedModel; returns its directory.

    The ``serving_default`` signature takes ``image`` (uint8 [None, H, W, C]) and returns
    ``class_ids``, ``probabilities`` and ``embedding``. Reload it with `tf.saved_model.load`.

    Raises:
      ConfigError: `image_shape` is not [H, W, C].
      ValueError: the Estimator has no checkpoint yet (train it first).
    """
    if len(image_shape) != 3:
        raise ConfigError("image_shape", "[height, width, channels]", list(image_shape))
    path = estimator.export_saved_model(
        os.fspath(export_dir_base), serving_input_fn(image_shape), checkpoint_path=checkpoint_path
    )
    return Path(path.decode("utf-8") if isinstance(path, bytes) else path)
