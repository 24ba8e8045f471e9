"""Exporting an Estimator as a SavedModel that serves raw uint8 images."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import tensorflow as tf

from reproml.models.classifier import (
    IMAGE_KEY,
    check_classifier_checkpoint,
    check_image_shape,
    resolve_params,
)


def serving_input_fn(image_shape: Sequence[int]):  # noqa: ANN201 (an Estimator receiver fn)
    """Return a receiver fn taking ``image``: uint8 [None, H, W, C] -- what the input_fn yields.

    Raises:
      ConfigError: `image_shape` is not [H, W, C] of positive ints.
    """
    shape = [None, *check_image_shape(image_shape)]

    def receiver() -> tf.estimator.export.ServingInputReceiver:
        image = tf.compat.v1.placeholder(tf.uint8, shape=shape, name=IMAGE_KEY)
        return tf.estimator.export.ServingInputReceiver({IMAGE_KEY: image}, {IMAGE_KEY: image})

    return receiver


def export_classifier(
    estimator: tf.estimator.Estimator,
    export_dir_base: str | os.PathLike,
    *,
    checkpoint_path: str | None = None,
) -> Path:
    """Export the latest (or given) checkpoint as a SavedModel; returns its directory.

    The ``serving_default`` signature takes ``image``: uint8 [None, H, W, C], with [H, W, C]
    the classifier's ``params["image_shape"]`` (the records' shape, from the manifest), and
    returns ``class_ids``, ``probabilities``, ``embedding`` (and ``classes`` when the params
    hold class names). Reload it with `tf.saved_model.load`.

    Raises:
      ConfigError: the Estimator's params hold no valid `image_shape`.
      RecordError: the checkpoint to export is damaged or made for other params.
      ValueError: the Estimator has no checkpoint yet (train it first).
    """
    params = resolve_params(estimator.params)
    if checkpoint_path is None:
        check_classifier_checkpoint(estimator.model_dir, params)
    path = estimator.export_saved_model(
        os.fspath(export_dir_base),
        serving_input_fn(params["image_shape"]),
        checkpoint_path=checkpoint_path,
    )
    return Path(path.decode("utf-8") if isinstance(path, bytes) else path)
