"""The recipes' frozen hyper-parameter objects: every config entry checked once, by name."""

import dataclasses

import pytest

from reproml.errors import ConfigError
from reproml.recipes.classifier import ClassifierHParams
from reproml.recipes.gan import GANHParams

CLASSIFIER = dict(
    network="cnn",
    optimizer="adam",
    lr=1e-3,
    dropout=0.4,
    batch_size=100,
    steps=2000,
    eval_every=1000,
    log_every=100,
    num_samples=32,
    seed=42,
    best_metric="accuracy",
    best_mode="max",
    patience=None,
    model_dir=None,
    export_savedmodel=True,
    class_weights=None,
    augment=None,
    cpu_kernels="onednn",
)
GAN = dict(
    gan_type="wgan_gp",
    network="dcgan",
    gen_batch_norm=True,
    optimizer="adam",
    lr=3e-4,
    adam_beta1=0.5,
    adam_beta2=0.9,
    rmsprop_decay=0.9,
    critic_steps=5,
    clip_value=0.01,
    gradient_penalty_weight=10.0,
    noise_dims=64,
    batch_size=32,
    steps=2000,
    eval_every=1000,
    eval_batches=50,
    log_every=50,
    num_fid_samples=1000,
    num_samples=36,
    evaluator_dir=None,
    evaluator_steps=1000,
    model_dir=None,
    seed=42,
)


def test_a_good_config_gives_a_frozen_object_with_the_model_params():
    hparams = ClassifierHParams.from_config({**CLASSIFIER, "dataset": {"data_dir": "x"}})
    assert hparams.model_params() == {
        "network": "cnn",
        "optimizer": "adam",
        "lr": 1e-3,
        "dropout": 0.4,
        "cpu_kernels": "onednn",
    }
    with pytest.raises(dataclasses.FrozenInstanceError):
        hparams.lr = 1.0
    gan = GANHParams.from_config(GAN)
    params = gan.estimator_params()
    assert params["generator_optimizer"] == params["critic_optimizer"] == "adam"
    assert params["generator_lr"] == params["critic_lr"] == 3e-4
    assert params["gan_type"] == "wgan_gp" and params["noise_dims"] == 64


@pytest.mark.parametrize(
    ("updates", "message"),
    [
        ({"optimizer": "adamw"}, "config entry 'optimizer': expected one of"),
        ({"network": "dcgan"}, "config entry 'network': expected one of"),
        ({"lr": float("nan")}, "config entry 'lr': expected a finite number > 0"),
        ({"dropout": float("nan")}, "config entry 'dropout': expected a rate in"),
        ({"dropout": True}, "config entry 'dropout': expected a rate in"),
        ({"steps": 2.0}, "config entry 'steps': expected an int >= 1"),
        ({"seed": 2**32}, "config entry 'seed'"),
        ({"best_mode": "up"}, "'best_mode'"),
        ({"model_dir": ""}, "config entry 'model_dir': expected None or a non-empty directory"),
        ({"export_savedmodel": 1}, "config entry 'export_savedmodel': expected True or False"),
        ({"class_weights": "balance"}, "config entry 'class_weights'"),
        ({"augment": {"brightness": 2}}, "config entry 'augment.brightness'"),
        ({"cpu_kernels": "mkl"}, r"config entry 'cpu_kernels': expected None or one of"),
        ({"cpu_kernels": 1}, r"config entry 'cpu_kernels': expected None or one of"),
    ],
)
def test_every_bad_classifier_entry_is_refused_by_name(updates, message):
    with pytest.raises(ConfigError, match=message):
        ClassifierHParams.from_config({**CLASSIFIER, **updates})


@pytest.mark.parametrize(
    ("updates", "message"),
    [
        ({"gan_type": "dcgan"}, "config entry 'gan_type': expected one of"),
        ({"network": "cnn"}, "config entry 'network': expected one of"),
        ({"optimizer": "adamw"}, "config entry 'optimizer': expected one of"),
        ({"gen_batch_norm": "yes"}, "config entry 'gen_batch_norm'"),
        ({"adam_beta1": 1.0}, r"config entry 'adam_beta1': expected a number in \[0, 1\)"),
        ({"clip_value": 0}, "config entry 'clip_value': expected a finite number > 0"),
        ({"critic_steps": 0}, "config entry 'critic_steps': expected an int >= 1"),
        ({"eval_batches": 0}, "config entry 'eval_batches': expected an int >= 1"),
        ({"num_fid_samples": 1}, "config entry 'num_fid_samples': expected an int >= 2"),
        ({"evaluator_dir": 3}, "config entry 'evaluator_dir': expected None or a directory"),
        ({"model_dir": ""}, "config entry 'model_dir': expected None or a non-empty directory"),
        ({"seed": -1}, "config entry 'seed'"),
    ],
)
def test_every_bad_gan_entry_is_refused_by_name(updates, message):
    with pytest.raises(ConfigError, match=message):
        GANHParams.from_config({**GAN, **updates})


def test_a_missing_entry_is_named():
    config = {k: v for k, v in CLASSIFIER.items() if k != "augment"}
    with pytest.raises(ConfigError, match="config entry 'augment': expected a config entry"):
        ClassifierHParams.from_config(config)
