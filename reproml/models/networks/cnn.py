"""The default classifier network: three conv layers (ReLU + max-pool), dense, dropout, logits.

It takes any [B, H, W, C] images: the convs and "same" pools keep no size of their own, and the
flatten before the dense layer reads the static size ceil(H/8) * ceil(W/8) * filters[2] from the
images (the classifier sets it from ``params["image_shape"]``).

Params read (defaults in `reproml.models.classifier.DEFAULT_PARAMS`):
  filters: the three conv layers' filter counts, e.g. [32, 64, 64].
  kernel_sizes: their square kernel sizes, e.g. [5, 3, 3].
  dense_units: width of the dense layer (the embedding).
  dropout: dropout rate after the dense layer (training only).
  num_classes: number of logits (from the records' manifest).
"""

from __future__ import annotations

from typing import Any

import tensorflow as tf

from reproml.errors import ConfigError
from reproml.models.networks import glorot_uniform

layers = tf.compat.v1.layers


def classifier(
    images: tf.Tensor, params: dict[str, Any], training: bool
) -> tuple[tf.Tensor, tf.Tensor]:
    """Return `(logits [B, num_classes], embedding [B, dense_units])` for images in [0, 1].

    Raises:
      ConfigError: `filters` and `kernel_sizes` are not both lists of three values.
    """
    filters, kernels = list(params["filters"]), list(params["kernel_sizes"])
    if len(filters) != 3:
        raise ConfigError("filters", "3 filter counts (one per conv layer)", filters)
    if len(kernels) != 3:
        raise ConfigError("kernel_sizes", "3 kernel sizes (one per conv layer)", kernels)
    net = images
    for i, (n_filters, size) in enumerate(zip(filters, kernels, strict=True)):
        net = layers.conv2d(
            net,
            int(n_filters),
            int(size),
            padding="same",
            activation=tf.nn.relu,
            kernel_initializer=glorot_uniform(),
            name=f"conv{i}",
        )
        net = layers.max_pooling2d(net, pool_size=2, strides=2, padding="same", name=f"pool{i}")
    net = layers.flatten(net, name="flatten")
    embedding = layers.dense(
        net,
        int(params["dense_units"]),
        activation=tf.nn.relu,
        kernel_initializer=glorot_uniform(),
        name="dense",
    )
    rate = float(params["dropout"])
    net = (
        tf.nn.dropout(embedding, rate=rate, name="dropout") if training and rate > 0 else embedding
    )
    logits = layers.dense(
        net, int(params["num_classes"]), kernel_initializer=glorot_uniform(), name="logits"
    )
    return logits, embedding
