"""Wasserstein GANs (weight clipping "wgan", gradient penalty "wgan_gp") as a TF-GAN GANEstimator.

The generator and critic come from the network file named by ``params["network"]`` (default
`networks/dcgan.py`). Both are trained with the Wasserstein losses; the critic takes
``critic_steps`` steps per generator step. "wgan" keeps the critic 1-Lipschitz by clipping every
critic weight to ``[-clip_value, clip_value]`` after each update; "wgan_gp" instead adds
``gradient_penalty_weight * (|grad critic(x_hat)| - 1)^2`` on random interpolates.

The image shape is ``params["image_shape"]``, read from the records' manifest with
`reproml.models.data_contract.gan_params_from_manifest` (no default: a missing one is a
`ConfigError`). Inputs: `gan_input_fn` turns the real input_fn's ``({"image": uint8}, label)``
batches into TF-GAN's ``(noise, real images in [-1, 1])``. Evaluation: `evaluate_gan` returns
the losses and the Fréchet distance of generated vs. real images in a trained classifier's
embedding space.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from itertools import islice
from typing import Any

import numpy as np
import tensorflow as tf

from reproml.checks import int_at_least
from reproml.cluster.distribution import input_pipeline
from reproml.cluster.tf_config import cluster_task
from reproml.errors import ConfigError
from reproml.models.checkpoint import check_checkpoint
from reproml.models.classifier import IMAGE_KEY, check_image_shape
from reproml.models.determinism import run_config
from reproml.models.frechet import (
    classifier_embeddings,
    frechet_distance,
    images_input_fn,
    to_uint8_images,
)
from reproml.models.gan_types import GAN_TYPES
from reproml.models.networks import get_network, image_shape_problem
from reproml.models.optimizers import make_optimizer
from reproml.models.tfgan_compat import tfgan

GENERATOR_SCOPE, CRITIC_SCOPE = "Generator", "Discriminator"  # TF-GAN's variable scopes

# Params the records decide (`data_contract.gan_params_from_manifest`); no defaults.
DATA_PARAMS: dict[str, str] = {
    "image_shape": "[H, W, C] of the real and generated uint8 images (required)",
}

DEFAULT_PARAMS: dict[str, Any] = {
    "gan_type": "wgan",  # "wgan" (weight clipping) or "wgan_gp" (gradient penalty)
    "network": "dcgan",  # module in reproml/models/networks/ defining generator() and critic()
    "noise_dims": 64,  # length of the generator's noise vector
    "gen_dense_units": 1024,  # generator: first dense layer
    "gen_channels": 128,  # generator: channels of the (H/4, W/4) map after the second dense
    "gen_filters": [64, 32],  # generator: the two stride-2 conv-transpose layers
    "gen_batch_norm": True,  # generator: batch norm before each hidden ReLU (else it ignores noise)
    "critic_filters": [64, 128],  # critic: the two stride-2 conv layers
    "leaky_relu_alpha": 0.2,  # critic: slope of its leaky ReLUs
    "generator_optimizer": "rmsprop",  # adam, sgd, rmsprop or adagrad
    "critic_optimizer": "rmsprop",  # adam, sgd, rmsprop or adagrad
    "generator_lr": 5e-5,  # generator learning rate
    "critic_lr": 5e-5,  # critic learning rate
    "adam_beta1": 0.5,  # Adam's beta1, both networks (the WGAN-GP paper's 0.5)
    "adam_beta2": 0.9,  # Adam's beta2, both networks (the WGAN-GP paper's 0.9)
    "rmsprop_decay": 0.9,  # RMSProp's decay, both networks (TensorFlow's default)
    "critic_steps": 5,  # critic updates per generator update
    "clip_value": 0.01,  # "wgan": critic weights are clipped to [-clip_value, clip_value]
    "gradient_penalty_weight": 10.0,  # "wgan_gp": weight of the gradient penalty
}


def resolve_params(params: Mapping[str, Any] | None) -> dict[str, Any]:
    """Return `DEFAULT_PARAMS` updated with `params`, checked.

    Raises:
      ConfigError: an unknown key; a missing `image_shape` (fill it from the records' manifest
        with `gan_params_from_manifest`) or one that is not [H, W, C] of positive ints or does
        not suit the network; an unknown `gan_type`; a non-positive `critic_steps`,
        `clip_value` or `gradient_penalty_weight`.
    """
    params = dict(params or {})
    known = {**DEFAULT_PARAMS, **DATA_PARAMS}
    unknown = sorted(set(params) - set(known))
    if unknown:
        raise ConfigError(unknown[0], f"one of the GAN params {sorted(known)}", unknown[0])
    merged = {**DEFAULT_PARAMS, **params}
    if merged.get("image_shape") is None:
        raise ConfigError(
            "image_shape",
            f"{DATA_PARAMS['image_shape']}: fill it from the records' manifest with "
            "reproml.models.data_contract.gan_params_from_manifest",
            None,
        )
    merged["image_shape"] = check_image_shape(merged["image_shape"])
    problem = image_shape_problem(merged["network"], merged["image_shape"])
    if problem is not None:
        raise ConfigError(
            "image_shape", f"{problem} (network {merged['network']!r})", merged["image_shape"]
        )
    if merged["gan_type"] not in GAN_TYPES:
        raise ConfigError("gan_type", f"one of {GAN_TYPES}", merged["gan_type"])
    steps = merged["critic_steps"]
    int_at_least("critic_steps", steps)
    for entry in ("clip_value", "gradient_penalty_weight"):
        if not isinstance(merged[entry], int | float) or not merged[entry] > 0:
            raise ConfigError(entry, "a positive number", merged[entry])
    for entry in ("adam_beta1", "adam_beta2", "rmsprop_decay"):
        value = merged[entry]
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < 1:
            raise ConfigError(entry, "a number in [0, 1)", value)
    return merged


def generator_fn(params: Mapping[str, Any]) -> Callable[..., tf.Tensor]:
    """Return TF-GAN's `generator_fn(noise, mode)` for the configured network.

    TF-GAN passes the Estimator's mode to a generator_fn that takes `mode`; the network uses
    batch statistics only in TRAIN mode (moving averages when evaluating and generating).
    """
    network = get_network(params["network"], "generator")

    def fn(noise: tf.Tensor, mode: str = tf.estimator.ModeKeys.TRAIN) -> tf.Tensor:
        return network(noise, dict(params), training=mode == tf.estimator.ModeKeys.TRAIN)

    return fn


def make_gan_optimizer(params: Mapping[str, Any], role: str) -> tf.compat.v1.train.Optimizer:
    """Return the optimizer of `role` ("generator" or "critic") with the configured settings.

    Raises:
      ConfigError: an unknown optimizer or a bad learning rate (named ``<role>_optimizer`` /
        ``<role>_lr``).
    """
    return make_optimizer(
        params[f"{role}_optimizer"],
        params[f"{role}_lr"],
        f"{role}_optimizer",
        f"{role}_lr",
        beta1=params["adam_beta1"],
        beta2=params["adam_beta2"],
        decay=params["rmsprop_decay"],
    )


def critic_fn(params: Mapping[str, Any]) -> Callable[[tf.Tensor, tf.Tensor], tf.Tensor]:
    """Return TF-GAN's `discriminator_fn(images, generator_inputs)` for the configured network."""
    network = get_network(params["network"], "critic")
    return lambda images, unused_generator_inputs: network(images, dict(params))


def critic_optimizer_fn(params: Mapping[str, Any]) -> Callable[[], tf.compat.v1.train.Optimizer]:
    """Return a function building the critic's optimizer inside the graph.

    For "wgan" the optimizer is wrapped by TF-GAN's `clip_variables`, which clips every
    variable of the critic's scope to ``[-clip_value, clip_value]`` after each update. It is a
    function because the critic's variables only exist once TF-GAN has built the model (the
    GANEstimator calls it after that).
    """

    def build() -> tf.compat.v1.train.Optimizer:
        optimizer = make_gan_optimizer(params, "critic")
        if params["gan_type"] != "wgan":
            return optimizer
        variables = tf.compat.v1.get_collection(
            tf.compat.v1.GraphKeys.TRAINABLE_VARIABLES, scope=CRITIC_SCOPE
        )
        return tfgan.features.clip_variables(optimizer, variables, float(params["clip_value"]))

    return build


def make_gan_estimator(
    model_dir: str | os.PathLike,
    params: Mapping[str, Any] | None,
    seed: int,
    **run_config_kwargs: Any,
) -> tfgan.estimator.GANEstimator:
    """Return a seeded, deterministic WGAN / WGAN-GP `GANEstimator`.

    Args:
      model_dir: checkpoint and summary directory; a checkpoint already in it must be readable
        and made for these params (`check_gan_checkpoint`).
      params: GAN params; `image_shape` comes from the records
        (`data_contract.gan_params_from_manifest`), missing others take `DEFAULT_PARAMS`.
      seed: graph-level seed of every graph the Estimator builds.
      **run_config_kwargs: further `tf.estimator.RunConfig` arguments.

    Raises:
      ConfigError: a param is missing, unknown or invalid (checked before any graph is built).
      RecordError: model_dir holds a damaged checkpoint or one of another model.
    """
    params = resolve_params(params)
    get_network(params["network"], "generator")
    get_network(params["network"], "critic")
    make_gan_optimizer(params, "generator")
    make_gan_optimizer(params, "critic")
    check_gan_checkpoint(model_dir, params)
    # TF-GAN passes Estimator params named like `gan_loss` arguments on to `gan_loss`:
    # `gradient_penalty_weight` switches the penalty on; None switches it off.
    estimator_params = dict(params)
    if params["gan_type"] != "wgan_gp":
        estimator_params["gradient_penalty_weight"] = None
    return tfgan.estimator.GANEstimator(
        generator_fn=generator_fn(params),
        discriminator_fn=critic_fn(params),
        generator_loss_fn=tfgan.losses.wasserstein_generator_loss,
        discriminator_loss_fn=tfgan.losses.wasserstein_discriminator_loss,
        generator_optimizer=lambda: make_gan_optimizer(params, "generator"),
        discriminator_optimizer=critic_optimizer_fn(params),
        get_hooks_fn=tfgan.get_sequential_train_hooks(
            tfgan.GANTrainSteps(1, params["critic_steps"])
        ),
        config=run_config(model_dir, seed, **run_config_kwargs),
        params=estimator_params,
    )


def gan_variable_shapes(params: Mapping[str, Any]) -> dict[str, tuple[int, ...]]:
    """Return ``{name: shape}`` of the generator's and critic's variables (built aside)."""
    params = resolve_params(params)
    with tf.Graph().as_default():
        tf.compat.v1.set_random_seed(0)  # only shapes are read; op determinism needs a seed
        noise = tf.compat.v1.placeholder(tf.float32, [None, int(params["noise_dims"])])
        with tf.compat.v1.variable_scope(GENERATOR_SCOPE):
            generator_fn(params)(noise)
        images = tf.compat.v1.placeholder(tf.float32, [None, *params["image_shape"]])
        with tf.compat.v1.variable_scope(CRITIC_SCOPE):
            critic_fn(params)(images, noise)
        return {v.op.name: tuple(v.shape.as_list()) for v in tf.compat.v1.global_variables()}


def check_gan_checkpoint(model_dir: str | os.PathLike, params: Mapping[str, Any]) -> None:
    """Refuse, in one line, a model_dir whose checkpoint is damaged or not made for `params`.

    A no-op when model_dir has no checkpoint yet. `make_gan_estimator` calls it.

    Raises:
      RecordError: an unreadable/dangling ``checkpoint`` file, a truncated or corrupt
        checkpoint file (named), or a checkpoint made for another image shape or network.
    """
    params = resolve_params(params)
    described = f"the GAN for image_shape {params['image_shape']}"
    check_checkpoint(model_dir, lambda: gan_variable_shapes(params), described)


def scale_to_tanh(images: tf.Tensor) -> tf.Tensor:
    """Scale uint8 images in [0, 255] to float32 in [-1, 1] (the generator's tanh range)."""
    return tf.cast(images, tf.float32) / 127.5 - 1.0


def gan_input_fn(
    input_fn: Callable[..., tf.data.Dataset], noise_dims: int, seed: int = 0
) -> Callable[..., tf.data.Dataset]:
    """Wrap a real input_fn for the GANEstimator: ``(features, labels) -> (noise, images)``.

    The docs' ``add_noise_and_swap``: the GANEstimator takes the generator's input as features
    and the real data as labels. Images are scaled to [-1, 1]; the noise of batch `i` is drawn
    with the stateless seed ``(seed, i)``, so it does not depend on graph seeds or thread order.

    The returned function takes the ``mode`` and ``input_context`` the Estimator passes and
    hands them to `input_fn` when it takes them (`reproml.records.reader.input_fn` does: on a
    ``TF_CONFIG`` cluster each trainer then reads only its own train shards). While training on
    a cluster, trainer `k` of `n` (`reproml.cluster.distribution.input_pipeline`) draws the noise
    of its batch `i` with ``(seed, i * n + k)``: no two trainers share noise vectors, and one
    process (``n = 1``) gets exactly ``(seed, i)``.

    Args:
      input_fn: a callable (e.g. `reproml.records.reader.input_fn(...)`) whose dataset yields
        ``({"image": uint8 [B, H, W, C]}, labels)``; called with no arguments, or with ``mode``
        and ``input_context`` when its signature has them.
      noise_dims: length of each noise vector.
      seed: seed of the noise.
    """
    takes = _argument_names(input_fn)

    def fn(mode: str | None = None, input_context: Any = None) -> tf.data.Dataset:
        arguments = {}
        if "mode" in takes:
            arguments["mode"] = mode
        if "input_context" in takes:
            arguments["input_context"] = input_context
        training_on_cluster = input_context is not None or (
            mode == tf.estimator.ModeKeys.TRAIN and cluster_task() is not None
        )
        num, index = input_pipeline(input_context) if training_on_cluster else (1, 0)

        def add_noise_and_swap(batch_index: tf.Tensor, batch: Any) -> tuple[tf.Tensor, tf.Tensor]:
            features = batch[0] if isinstance(batch, tuple) else batch
            if features[IMAGE_KEY].dtype != tf.uint8:
                raise ValueError(
                    f"features[{IMAGE_KEY!r}]: expected tf.uint8 images in [0, 255], "
                    f"got {features[IMAGE_KEY].dtype.name}"
                )
            images = scale_to_tanh(features[IMAGE_KEY])
            shape = tf.stack([tf.shape(images)[0], noise_dims])
            stream = batch_index * num + index if num > 1 else batch_index
            noise = tf.random.stateless_normal(
                shape, seed=tf.stack([tf.cast(seed, tf.int64), stream])
            )
            return noise, images

        return input_fn(**arguments).enumerate().map(add_noise_and_swap)

    return fn


def _argument_names(fn: Callable) -> set[str]:
    """Return the names of the parameters `fn` can be called with by keyword."""
    import inspect

    try:
        parameters = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return set()
    kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    return {p.name for p in parameters if p.kind in kinds}


def noise_input_fn(
    num_samples: int, noise_dims: int, seed: int = 0, batch_size: int = 64
) -> Callable[[], tf.data.Dataset]:
    """Return a predict input_fn of `num_samples` fixed noise vectors (for generating images)."""
    noise = (
        np.random.default_rng(seed).standard_normal((num_samples, noise_dims)).astype(np.float32)
    )

    def fn() -> tf.data.Dataset:
        return tf.data.Dataset.from_tensor_slices(noise).batch(batch_size)

    return fn


def generate(
    gan_estimator: tf.estimator.Estimator, num_samples: int, noise_dims: int, seed: int = 0
) -> np.ndarray:
    """Return `num_samples` generated images [N, H, W, C] in [-1, 1] from fixed noise."""
    predictions = gan_estimator.predict(noise_input_fn(num_samples, noise_dims, seed))
    return np.stack(list(islice(predictions, num_samples)))


def evaluate_gan(
    gan_estimator: tf.estimator.Estimator,
    gan_eval_input_fn: Callable[[], tf.data.Dataset],
    classifier: tf.estimator.Estimator,
    real_input_fn: Callable[[], tf.data.Dataset],
    num_samples: int,
    noise_dims: int,
    steps: int | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """Return the GANEstimator's eval metrics plus ``frechet_distance``.

    Args:
      gan_estimator: the trained GAN.
      gan_eval_input_fn: a `gan_input_fn(...)` over the eval split (for the losses).
      classifier: a trained classifier Estimator providing the "embedding" prediction.
      real_input_fn: the real input_fn (uint8 images) of the split to compare with.
      num_samples: how many real and generated images the Fréchet distance uses.
      noise_dims: length of the noise vectors.
      steps: eval steps for the losses (None: the whole eval input).
      seed: seed of the generator's noise.
    """
    metrics = dict(gan_estimator.evaluate(gan_eval_input_fn, steps=steps))
    generated = to_uint8_images(generate(gan_estimator, num_samples, noise_dims, seed))
    real = classifier_embeddings(classifier, real_input_fn, num_samples)
    fake = classifier_embeddings(classifier, images_input_fn(generated), num_samples)
    metrics["frechet_distance"] = frechet_distance(real, fake)
    return metrics
