"""The image classifier as a `tf.estimator` model.

`model_fn` only dispatches by mode to `train_spec`, `eval_spec` and `predict_spec`; each of
those is a module function that can be built and tested on its own. The network comes from
``params["network"]`` (a file in `reproml/models/networks/`), the optimizer from
``params["optimizer"]`` and ``params["lr"]``. Images arrive as uint8 [B, H, W, C] (the input
contract) and are scaled to [0, 1] here, inside the model, so a SavedModel serves raw images.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import tensorflow as tf

from reproml.errors import ConfigError
from reproml.models.determinism import run_config
from reproml.models.metrics import classification_metrics
from reproml.models.networks import get_network
from reproml.models.optimizers import make_optimizer

ModeKeys = tf.estimator.ModeKeys

IMAGE_KEY = "image"

DEFAULT_PARAMS: dict[str, Any] = {
    "network": "cnn",  # module in reproml/models/networks/ defining classifier()
    "num_classes": 10,  # number of logits; labels are int64 in [0, num_classes)
    "filters": [32, 64, 64],  # filter counts of the three conv layers
    "kernel_sizes": [5, 3, 3],  # square kernel sizes of the three conv layers
    "dense_units": 128,  # width of the dense layer (= the embedding)
    "dropout": 0.4,  # dropout rate after the dense layer, training only
    "optimizer": "adam",  # adam, sgd, rmsprop or adagrad
    "lr": 1e-3,  # learning rate
}


def resolve_params(params: Mapping[str, Any] | None) -> dict[str, Any]:
    """Return `DEFAULT_PARAMS` updated with `params`.

    Raises:
      ConfigError: a key of `params` is not a classifier parameter (likely a typo), or
        `num_classes` is not an int >= 2.
    """
    params = dict(params or {})
    unknown = sorted(set(params) - set(DEFAULT_PARAMS))
    if unknown:
        expected = f"one of the classifier params {sorted(DEFAULT_PARAMS)}"
        raise ConfigError(unknown[0], expected, unknown[0])
    merged = {**DEFAULT_PARAMS, **params}
    n = merged["num_classes"]
    if isinstance(n, bool) or not isinstance(n, int) or n < 2:
        raise ConfigError("num_classes", "an int >= 2", n)
    return merged


def scale_images(features: Mapping[str, tf.Tensor]) -> tf.Tensor:
    """Return ``features["image"]`` (uint8 [B, H, W, C]) as float32 in [0, 1].

    Raises:
      ValueError: there is no "image" feature, or it is not a uint8 tensor of rank 4.
    """
    if not isinstance(features, Mapping) or IMAGE_KEY not in features:
        got = sorted(features) if isinstance(features, Mapping) else type(features).__name__
        raise ValueError(f"features: expected a dict with key {IMAGE_KEY!r}, got {got}")
    image = features[IMAGE_KEY]
    if image.dtype != tf.uint8 or image.shape.rank != 4:
        raise ValueError(
            f"features[{IMAGE_KEY!r}]: expected tf.uint8 [B, H, W, C], "
            f"got {image.dtype.name} of shape {image.shape}"
        )
    return tf.cast(image, tf.float32) / 255.0


def forward(
    features: Mapping[str, tf.Tensor], params: Mapping[str, Any], training: bool
) -> tuple[tf.Tensor, tf.Tensor]:
    """Build the network named by ``params["network"]``; returns `(logits, embedding)`."""
    network = get_network(params["network"], "classifier")
    return network(scale_images(features), dict(params), training)


def train_spec(
    features: Mapping[str, tf.Tensor], labels: tf.Tensor, params: Mapping[str, Any]
) -> tf.estimator.EstimatorSpec:
    """Return the TRAIN spec: cross-entropy loss minimized by the configured optimizer."""
    logits, _ = forward(features, params, training=True)
    loss = tf.compat.v1.losses.sparse_softmax_cross_entropy(labels=labels, logits=logits)
    optimizer = make_optimizer(params["optimizer"], params["lr"])
    train_op = optimizer.minimize(loss, global_step=tf.compat.v1.train.get_or_create_global_step())
    return tf.estimator.EstimatorSpec(ModeKeys.TRAIN, loss=loss, train_op=train_op)


def eval_spec(
    features: Mapping[str, tf.Tensor], labels: tf.Tensor, params: Mapping[str, Any]
) -> tf.estimator.EstimatorSpec:
    """Return the EVAL spec: loss plus `classification_metrics` (accuracy, precision, ...)."""
    logits, _ = forward(features, params, training=False)
    loss = tf.compat.v1.losses.sparse_softmax_cross_entropy(labels=labels, logits=logits)
    class_ids = tf.argmax(logits, axis=1)
    metrics = classification_metrics(labels, class_ids, params["num_classes"])
    return tf.estimator.EstimatorSpec(ModeKeys.EVAL, loss=loss, eval_metric_ops=metrics)


def predict_spec(
    features: Mapping[str, tf.Tensor], params: Mapping[str, Any]
) -> tf.estimator.EstimatorSpec:
    """Return the PREDICT spec: `class_ids`, `probabilities` and `embedding` (penultimate layer).

    The same dict is the SavedModel's ``serving_default`` signature output.
    """
    logits, embedding = forward(features, params, training=False)
    predictions = {
        "class_ids": tf.argmax(logits, axis=1),
        "probabilities": tf.nn.softmax(logits),
        "embedding": embedding,
    }
    export = tf.estimator.export.PredictOutput(predictions)
    return tf.estimator.EstimatorSpec(
        ModeKeys.PREDICT, predictions=predictions, export_outputs={"serving_default": export}
    )


def model_fn(
    features: Mapping[str, tf.Tensor],
    labels: tf.Tensor | None,
    mode: str,
    params: Mapping[str, Any],
) -> tf.estimator.EstimatorSpec:
    """Dispatch the Estimator's call by `mode` to `train_spec`, `eval_spec` or `predict_spec`."""
    params = resolve_params(params)
    if mode == ModeKeys.TRAIN:
        return train_spec(features, labels, params)
    if mode == ModeKeys.EVAL:
        return eval_spec(features, labels, params)
    if mode == ModeKeys.PREDICT:
        return predict_spec(features, params)
    raise ValueError(f"mode: expected one of train, eval, infer, got {mode!r}")


def make_classifier(
    model_dir: str | os.PathLike,
    params: Mapping[str, Any] | None,
    seed: int,
    **run_config_kwargs: Any,
) -> tf.estimator.Estimator:
    """Return the classifier Estimator, seeded and deterministic (see `reproml.models.determinism`).

    Args:
      model_dir: checkpoint and summary directory.
      params: classifier params; missing ones take `DEFAULT_PARAMS`.
      seed: graph-level seed of every graph the Estimator builds.
      **run_config_kwargs: further `tf.estimator.RunConfig` arguments.

    Raises:
      ConfigError: a param is unknown or invalid (network and optimizer are checked here,
        before any graph is built).
    """
    params = resolve_params(params)
    get_network(params["network"], "classifier")
    make_optimizer(params["optimizer"], params["lr"])
    return tf.estimator.Estimator(
        model_fn=model_fn,
        config=run_config(model_dir, seed, **run_config_kwargs),
        params=params,
    )
