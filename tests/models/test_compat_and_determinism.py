import inspect

import pytest
import tensorflow as tf
from tensorflow.python.framework import config as tf_config

from reproml.errors import ConfigError
from reproml.models import tfgan_compat
from reproml.models.determinism import run_config


def test_getargspec_is_available_for_tfgan():
    assert inspect.getargspec is not None  # removed in Python 3.11, restored by the shim
    assert tfgan_compat.tfgan.gan_loss is not None


def _plain(a, b=1):
    return a + b


def _varargs(a, *rest, **options):
    return a, rest, options


@pytest.mark.parametrize(
    "func, expected",
    [
        (_plain, (["a", "b"], None, None, (1,))),
        (_varargs, (["a"], "rest", "options", None)),
        (
            tfgan_compat.tfgan.losses.wasserstein_generator_loss,
            (["gan_model"], None, "kwargs", None),
        ),
    ],
)
def test_getargspec_matches_the_old_argspec(func, expected):
    spec = inspect.getargspec(func)
    assert tuple(spec) == expected
    assert (spec.args, spec.keywords) == (expected[0], expected[2])  # what TF-GAN reads


def test_run_config_seeds_the_graph_and_enables_op_determinism(tmp_path):
    config = run_config(tmp_path, 123, save_checkpoints_steps=7)
    assert config.tf_random_seed == 123
    assert config.model_dir == str(tmp_path)
    assert config.save_checkpoints_steps == 7
    assert tf_config.is_op_determinism_enabled()


@pytest.mark.parametrize(
    "seed, kwargs, entry",
    [
        (-1, {}, "seed"),
        (1.5, {}, "seed"),
        (True, {}, "seed"),
        (1, {"tf_random_seed": 2}, "tf_random_seed"),
    ],
)
def test_run_config_rejects_bad_seeds(tmp_path, seed, kwargs, entry):
    with pytest.raises(ConfigError, match=entry) as err:
        run_config(tmp_path, seed, **kwargs)
    assert err.value.entry == entry


def test_graph_seed_makes_random_ops_repeat():
    def draw():
        with tf.Graph().as_default() as graph:
            tf.compat.v1.set_random_seed(run_config("/tmp/unused", 5).tf_random_seed)
            value = tf.random.uniform([4])
            with tf.compat.v1.Session(graph=graph) as session:
                return session.run(value)

    assert (draw() == draw()).all()
