"""The (W)GAN generator and critic for [H, W, C] images (after TF-GAN's MNIST example).

H, W and C come from ``params["image_shape"]`` (the records' manifest); H and W must be
divisible by 4. For 28x28x1 images:
Generator: noise -> dense `gen_dense_units` (1024) -> dense (H/4)*(W/4)*`gen_channels` (7*7*128)
-> reshape -> conv-transpose `gen_filters[0]` (64, 4x4, stride 2) -> conv-transpose
`gen_filters[1]` (32, stride 2) -> conv to C channels with tanh, i.e. images in [-1, 1].
With `gen_batch_norm` (the default) every hidden layer is batch-normalized before its ReLU and has
no bias: batch statistics while training, moving averages when generating. Without it the
output of this 5-layer ReLU stack hardly depends on the noise at initialization (pixel std across
noise 0.0085 vs. 0.447 with batch norm) and training collapses to one blob.
Critic: conv `critic_filters[0]` (64, stride 2) -> conv `critic_filters[1]` (128, stride 2), leaky
ReLU (slope `leaky_relu_alpha`), no batch norm (the gradient penalty is per example)
-> flatten -> one unbounded score per image (no sigmoid: a Wasserstein critic).

Params read: `image_shape` (from the records' manifest, no default), and (defaults in
`reproml.models.wgan.DEFAULT_PARAMS`) `gen_dense_units`, `gen_channels`, `gen_filters`,
`gen_batch_norm`, `critic_filters`, `leaky_relu_alpha`.
"""

from __future__ import annotations

from typing import Any

import tensorflow as tf

from reproml.errors import ConfigError
from reproml.models.networks import glorot_uniform

layers = tf.compat.v1.layers


def image_shape_problem(image_shape: tuple[int, ...]) -> str | None:
    """Return what this network needs of `image_shape` if it is not met, else None.

    The generator upsamples an (H/4, W/4) map twice by 2, so H and W must be divisible by 4.
    """
    if len(image_shape) != 3 or image_shape[0] % 4 or image_shape[1] % 4:
        return "[H, W, C] images with H and W divisible by 4"
    return None


def _base_size(params: dict[str, Any]) -> tuple[int, int, int]:
    shape = tuple(int(d) for d in params["image_shape"])
    problem = image_shape_problem(shape)
    if problem is not None:
        raise ConfigError("image_shape", f"{problem} (network 'dcgan')", list(shape))
    height, width, channels = shape
    return height // 4, width // 4, channels


def _normalized_relu(net: tf.Tensor, batch_norm: bool, training: bool, name: str) -> tf.Tensor:
    """Batch-normalize `net` (if `batch_norm`), then apply ReLU."""
    if batch_norm:
        net = layers.batch_normalization(
            net, momentum=0.99, epsilon=1e-3, training=training, name=f"{name}_bn"
        )
    return tf.nn.relu(net)


def generator(noise: tf.Tensor, params: dict[str, Any], training: bool = True) -> tf.Tensor:
    """Map noise [B, noise_dims] to images [B, H, W, C] in [-1, 1].

    `training` only matters with ``gen_batch_norm``: batch statistics (True) or the moving
    averages (False, when generating). Callers building a train op must run the
    ``UPDATE_OPS`` collection (TF-GAN's train ops do).
    """
    base_h, base_w, channels = _base_size(params)
    gen_channels = int(params["gen_channels"])
    batch_norm = bool(params.get("gen_batch_norm", False))
    net = layers.dense(
        noise,
        int(params["gen_dense_units"]),
        use_bias=not batch_norm,
        kernel_initializer=glorot_uniform(),
        name="fc0",
    )
    net = _normalized_relu(net, batch_norm, training, "fc0")
    net = layers.dense(
        net,
        base_h * base_w * gen_channels,
        use_bias=not batch_norm,
        kernel_initializer=glorot_uniform(),
        name="fc1",
    )
    net = _normalized_relu(net, batch_norm, training, "fc1")
    net = tf.reshape(net, [-1, base_h, base_w, gen_channels])
    for i, filters in enumerate(params["gen_filters"]):
        net = layers.conv2d_transpose(
            net,
            int(filters),
            4,
            strides=2,
            padding="same",
            use_bias=not batch_norm,
            kernel_initializer=glorot_uniform(),
            name=f"up{i}",
        )
        net = _normalized_relu(net, batch_norm, training, f"up{i}")
    return layers.conv2d(
        net,
        channels,
        4,
        padding="same",
        activation=tf.tanh,
        kernel_initializer=glorot_uniform(),
        name="to_image",
    )


def critic(images: tf.Tensor, params: dict[str, Any]) -> tf.Tensor:
    """Map images [B, H, W, C] in [-1, 1] to one unbounded score per image [B, 1]."""
    alpha = float(params.get("leaky_relu_alpha", 0.2))
    net = images
    for i, filters in enumerate(params["critic_filters"]):
        net = layers.conv2d(
            net,
            int(filters),
            4,
            strides=2,
            padding="same",
            kernel_initializer=glorot_uniform(),
            name=f"conv{i}",
        )
        net = tf.nn.leaky_relu(net, alpha=alpha)
    return layers.dense(layers.flatten(net), 1, kernel_initializer=glorot_uniform(), name="score")
