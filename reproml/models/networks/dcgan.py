"""The (W)GAN generator and critic of the Reproducible-ML docs, for [H, W, C] images.

H, W and C come from ``params["image_shape"]`` (the records' manifest); H and W must be
divisible by 4. For 28x28x1 images:
Generator: noise -> dense `gen_dense_units` (1024) -> dense (H/4)*(W/4)*`gen_channels` (7*7*256)
-> reshape -> conv-transpose `gen_filters[0]` (64, stride 2) -> conv-transpose `gen_filters[1]`
(32, stride 2) -> conv to C channels with tanh, i.e. images in [-1, 1].
Critic: conv `critic_filters[0]` (64, stride 2) -> conv `critic_filters[1]` (128, stride 2)
-> flatten -> one unbounded score per image (no sigmoid: a Wasserstein critic).

Params read: `image_shape` (from the records' manifest, no default), and (defaults in
`reproml.models.wgan.DEFAULT_PARAMS`) `gen_dense_units`, `gen_channels`, `gen_filters`,
`critic_filters`.
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


def generator(noise: tf.Tensor, params: dict[str, Any]) -> tf.Tensor:
    """Map noise [B, noise_dims] to images [B, H, W, C] in [-1, 1]."""
    base_h, base_w, channels = _base_size(params)
    gen_channels = int(params["gen_channels"])
    net = layers.dense(
        noise,
        int(params["gen_dense_units"]),
        activation=tf.nn.relu,
        kernel_initializer=glorot_uniform(),
        name="fc0",
    )
    net = layers.dense(
        net,
        base_h * base_w * gen_channels,
        activation=tf.nn.relu,
        kernel_initializer=glorot_uniform(),
        name="fc1",
    )
    net = tf.reshape(net, [-1, base_h, base_w, gen_channels])
    for i, filters in enumerate(params["gen_filters"]):
        net = layers.conv2d_transpose(
            net,
            int(filters),
            4,
            strides=2,
            padding="same",
            activation=tf.nn.relu,
            kernel_initializer=glorot_uniform(),
            name=f"up{i}",
        )
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
    net = images
    for i, filters in enumerate(params["critic_filters"]):
        net = layers.conv2d(
            net,
            int(filters),
            4,
            strides=2,
            padding="same",
            activation=tf.nn.leaky_relu,
            kernel_initializer=glorot_uniform(),
            name=f"conv{i}",
        )
    return layers.dense(layers.flatten(net), 1, kernel_initializer=glorot_uniform(), name="score")
