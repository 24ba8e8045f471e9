"""WGAN and WGAN-GP GANEstimators trained through the real input_fn on tiny records."""

import numpy as np
import pytest
import tensorflow as tf

from reproml.errors import ConfigError
from reproml.models import wgan
from reproml.models.classifier import make_classifier
from reproml.records.reader import input_fn
from tests.models.conftest import TINY_CLASSIFIER, TINY_GAN

pytestmark = pytest.mark.slow
NOISE = TINY_GAN["noise_dims"]


def _critic_weights(model_dir):
    reader = tf.train.load_checkpoint(str(model_dir))
    return {
        name: reader.get_tensor(name)
        for name in reader.get_variable_to_shape_map()
        if name.startswith(wgan.CRITIC_SCOPE) and "RMSProp" not in name
    }


def test_gan_input_fn_scales_images_and_adds_seeded_noise(digits_records):
    real = input_fn("eval", 16, digits_records, n_epochs=1)
    batches = list(wgan.gan_input_fn(real, NOISE, seed=3)())
    again = list(wgan.gan_input_fn(real, NOISE, seed=3)())
    other_seed = list(wgan.gan_input_fn(real, NOISE, seed=4)())
    images = [features["image"].numpy() for features, _ in real()]
    assert len(batches) == 2
    for (noise, scaled), uint8, (noise_again, _) in zip(batches, images, again, strict=True):
        assert noise.shape == (16, NOISE) and noise.dtype == tf.float32
        np.testing.assert_allclose(scaled.numpy(), uint8.astype(np.float32) / 127.5 - 1, atol=1e-6)
        assert scaled.numpy().min() >= -1 and scaled.numpy().max() <= 1
        np.testing.assert_array_equal(noise.numpy(), noise_again.numpy())
    assert not np.array_equal(batches[0][0].numpy(), batches[1][0].numpy())
    assert not np.array_equal(batches[0][0].numpy(), other_seed[0][0].numpy())


@pytest.mark.parametrize("gan_type", wgan.GAN_TYPES)
def test_graph_builds_with_critic_steps_hooks(digits_records, tmp_path, gan_type):
    estimator = wgan.make_gan_estimator(tmp_path, {**TINY_GAN, "gan_type": gan_type}, seed=0)
    real = input_fn("train", 16, digits_records, random_seed=0)
    with tf.Graph().as_default():
        tf.compat.v1.set_random_seed(0)
        noise, images = tf.compat.v1.data.make_one_shot_iterator(
            wgan.gan_input_fn(real, NOISE)()
        ).get_next()
        spec = estimator.model_fn(noise, images, tf.estimator.ModeKeys.TRAIN, estimator.config)
        steps = [hook._train_steps for hook in spec.training_hooks]
        losses = {op.name for op in tf.compat.v1.get_default_graph().get_operations()}
    assert steps == [1, TINY_GAN["critic_steps"]]  # generator steps, critic steps
    has_penalty = any("wasserstein_gradient_penalty" in name for name in losses)
    assert has_penalty == (gan_type == "wgan_gp")


@pytest.fixture(scope="module")
def classifier(tmp_path_factory, digits_records):
    estimator = make_classifier(tmp_path_factory.mktemp("clf"), TINY_CLASSIFIER, seed=0)
    estimator.train(input_fn("train", 16, digits_records, random_seed=0), steps=3)
    return estimator


@pytest.mark.parametrize("gan_type", wgan.GAN_TYPES)
def test_train_a_few_steps_then_evaluate_with_frechet(
    digits_records, tmp_path, classifier, gan_type
):
    params = {**TINY_GAN, "gan_type": gan_type, "clip_value": 0.02, "critic_lr": 1e-3}
    estimator = wgan.make_gan_estimator(tmp_path, params, seed=1)
    train = input_fn("train", 16, digits_records, random_seed=0)
    estimator.train(wgan.gan_input_fn(train, NOISE), steps=3)
    assert estimator.get_variable_value("global_step") == 3

    weights = _critic_weights(tmp_path)
    assert {"Discriminator/conv0/kernel", "Discriminator/score/kernel"} <= set(weights)
    largest = max(np.abs(w).max() for w in weights.values())
    if gan_type == "wgan":
        assert largest <= 0.02 + 1e-7  # every critic weight clipped
        assert largest == pytest.approx(0.02)  # ... and the clip was active
    else:
        assert largest > 0.02  # no clipping with a gradient penalty

    eval_real = input_fn("eval", 16, digits_records, n_epochs=1)
    metrics = wgan.evaluate_gan(
        estimator,
        wgan.gan_input_fn(eval_real, NOISE),
        classifier,
        eval_real,
        num_samples=32,
        noise_dims=NOISE,
    )
    for key in ("generator_loss", "discriminator_loss", "loss", "frechet_distance"):
        assert np.shape(metrics[key]) == () and np.isfinite(metrics[key]), key
    assert metrics["frechet_distance"] > 0  # random-ish samples are not the digits
    assert metrics["global_step"] == 3

    samples = wgan.generate(estimator, 5, NOISE, seed=2)
    assert samples.shape == (5, 28, 28, 1) and samples.min() >= -1 and samples.max() <= 1
    np.testing.assert_array_equal(samples, wgan.generate(estimator, 5, NOISE, seed=2))


def test_same_seed_same_gan_different_seed_different(digits_records, tmp_path):
    def train(name, seed):
        params = {**TINY_GAN, "gan_type": "wgan_gp"}
        estimator = wgan.make_gan_estimator(tmp_path / name, params, seed=seed)
        real = input_fn("train", 16, digits_records, random_seed=0)
        estimator.train(wgan.gan_input_fn(real, NOISE), steps=2)
        reader = tf.train.load_checkpoint(str(tmp_path / name))
        return {n: reader.get_tensor(n) for n in reader.get_variable_to_shape_map()}

    first, second, other = train("a", 5), train("b", 5), train("c", 6)
    assert sorted(first) == sorted(second)
    for name in first:
        np.testing.assert_array_equal(first[name], second[name], err_msg=name)
    assert not np.array_equal(first["Generator/fc0/kernel"], other["Generator/fc0/kernel"])


@pytest.mark.parametrize(
    "params, entry",
    [
        ({"gan_type": "dcgan"}, "gan_type"),
        ({"critic_steps": 0}, "critic_steps"),
        ({"clip_value": -1}, "clip_value"),
        ({"gradient_penalty_weight": 0}, "gradient_penalty_weight"),
        ({"critic_optimizer": "lion"}, "critic_optimizer"),
        ({"generator_optimizer": "lion"}, "generator_optimizer"),
        ({"generator_lr": -1.0}, "generator_lr"),
        ({"adam_beta1": 1.0}, "adam_beta1"),
        ({"adam_beta2": -0.1}, "adam_beta2"),
        ({"rmsprop_decay": "0.9"}, "rmsprop_decay"),
        ({"network": "cnn"}, "network"),  # cnn has no generator()
        ({"noise_dim": 3}, "noise_dim"),
        ({"image_shape": None}, "image_shape"),
        ({"image_shape": [28, 28]}, "image_shape"),
        ({"image_shape": [14, 14, 1]}, "image_shape"),  # dcgan: H, W divisible by 4
    ],
)
def test_bad_gan_params_are_config_errors(tmp_path, params, entry):
    with pytest.raises(ConfigError) as err:
        wgan.make_gan_estimator(tmp_path, {**TINY_GAN, **params}, seed=0)
    assert err.value.entry == entry


def test_a_missing_image_shape_is_a_config_error_not_a_default(tmp_path):
    params = {k: v for k, v in TINY_GAN.items() if k != "image_shape"}
    with pytest.raises(ConfigError, match="gan_params_from_manifest") as err:
        wgan.make_gan_estimator(tmp_path, params, seed=0)
    assert err.value.entry == "image_shape"


@pytest.mark.parametrize(
    ("name", "attributes"),
    [("adam", {"_beta1": 0.5, "_beta2": 0.9, "_lr": 3e-4}), ("rmsprop", {"_decay": 0.8})],
)
def test_gan_optimizers_take_adam_betas_and_rmsprop_decay(name, attributes):
    params = wgan.resolve_params(
        {**TINY_GAN, "critic_optimizer": name, "critic_lr": 3e-4, "rmsprop_decay": 0.8}
    )
    optimizer = wgan.make_gan_optimizer(params, "critic")
    for attribute, value in attributes.items():
        assert getattr(optimizer, attribute) == pytest.approx(value), attribute


def test_training_updates_the_generator_batch_norm_statistics(digits_records, tmp_path):
    params = {**TINY_GAN, "gan_type": "wgan_gp", "gen_batch_norm": True}
    estimator = wgan.make_gan_estimator(tmp_path, params, seed=3)
    real = input_fn("train", 16, digits_records, random_seed=0)
    estimator.train(wgan.gan_input_fn(real, NOISE), steps=2)
    moving_mean = estimator.get_variable_value("Generator/fc0_bn/moving_mean")
    assert np.abs(moving_mean).max() > 0  # TF-GAN's train op ran the UPDATE_OPS
