import numpy as np
import pytest
import tensorflow as tf

from reproml.errors import ConfigError
from reproml.models import networks
from reproml.models.classifier import DEFAULT_PARAMS
from reproml.models.networks import available_networks, get_network
from reproml.models.wgan import DEFAULT_PARAMS as GAN_DEFAULTS
from tests.models.conftest import TINY_CLASSIFIER, TINY_GAN


def _run(build):
    with tf.Graph().as_default():
        tf.compat.v1.set_random_seed(0)
        outputs = build()
        with tf.compat.v1.Session() as session:
            session.run(tf.compat.v1.global_variables_initializer())
            return session.run(outputs)


def test_registry_lists_networks_by_role():
    assert "cnn" in available_networks("classifier")
    assert "dcgan" in available_networks("generator")
    assert "dcgan" in available_networks("critic")
    assert "dcgan" not in available_networks("classifier")


@pytest.mark.parametrize(
    "name, role, message",
    [
        ("resnet9000", "classifier", "cnn"),
        ("dcgan", "classifier", "does not"),
        ("cnn", "critic", "dcgan"),
    ],
)
def test_unknown_network_is_a_config_error(name, role, message):
    with pytest.raises(ConfigError, match=message) as err:
        get_network(name, role)
    assert err.value.entry == "network"


def test_a_new_network_is_a_new_file(tmp_path, monkeypatch):
    (tmp_path / "linear.py").write_text(
        "import tensorflow as tf\n"
        "def classifier(images, params, training):\n"
        "    embedding = tf.compat.v1.layers.flatten(images)\n"
        "    return tf.compat.v1.layers.dense(embedding, params['num_classes']), embedding\n"
    )
    monkeypatch.setattr(networks, "__path__", [*networks.__path__, str(tmp_path)])
    assert "linear" in available_networks("classifier")
    params = {**DEFAULT_PARAMS, "num_classes": 3}
    logits, embedding = _run(
        lambda: get_network("linear", "classifier")(tf.zeros([2, 4, 4, 1]), params, False)
    )
    assert logits.shape == (2, 3) and embedding.shape == (2, 16)


def test_cnn_shapes_follow_params():
    params = {**DEFAULT_PARAMS, **TINY_CLASSIFIER, "num_classes": 7, "dense_units": 5}
    logits, embedding = _run(
        lambda: get_network("cnn", "classifier")(tf.random.uniform([3, 28, 28, 1]), params, False)
    )
    assert logits.shape == (3, 7) and embedding.shape == (3, 5)
    assert (embedding >= 0).all()  # ReLU layer


def test_cnn_dropout_only_in_training():
    params = {**DEFAULT_PARAMS, **TINY_CLASSIFIER, "dropout": 0.9}
    images = np.random.default_rng(0).uniform(size=(2, 28, 28, 1)).astype(np.float32)

    def twice(training):
        def build():
            network = get_network("cnn", "classifier")
            with tf.compat.v1.variable_scope("net", reuse=tf.compat.v1.AUTO_REUSE):
                return network(images, params, training)[0], network(images, params, training)[0]

        return _run(build)

    first, second = twice(training=False)
    np.testing.assert_array_equal(first, second)
    first, second = twice(training=True)
    assert not np.array_equal(first, second)


def test_cnn_rejects_wrong_layer_count():
    params = {**DEFAULT_PARAMS, "filters": [8, 8]}
    with pytest.raises(ConfigError, match="filters"):
        _run(lambda: get_network("cnn", "classifier")(tf.zeros([1, 28, 28, 1]), params, False))


def test_dcgan_generator_and_critic_shapes():
    params = {**GAN_DEFAULTS, **TINY_GAN}
    images, scores = _run(
        lambda: (
            get_network("dcgan", "generator")(tf.random.normal([5, 8]), params),
            get_network("dcgan", "critic")(tf.random.uniform([5, 28, 28, 1], -1, 1), params),
        )
    )
    assert images.shape == (5, 28, 28, 1)
    assert images.min() >= -1 and images.max() <= 1  # tanh
    assert scores.shape == (5, 1)


def test_dcgan_needs_sizes_divisible_by_four():
    params = {**GAN_DEFAULTS, **TINY_GAN, "image_shape": [30, 30, 1]}
    with pytest.raises(ConfigError, match="image_shape"):
        _run(lambda: get_network("dcgan", "generator")(tf.zeros([1, 8]), params))


def test_dcgan_generator_batch_norm_makes_samples_depend_on_the_noise():
    # At initialization, without batch norm the 5-layer ReLU generator maps every noise vector
    # to nearly the same image (the mode collapse of the original default); with it, it does not.
    spread = {}
    generator = get_network("dcgan", "generator")
    for batch_norm in (False, True):
        params = {**GAN_DEFAULTS, "image_shape": [28, 28, 1], "gen_batch_norm": batch_norm}
        images = _run(lambda p=params: generator(tf.random.normal([16, 64], seed=1), p))
        spread[batch_norm] = images.std(axis=0).mean()
    assert spread[False] < 0.05 and spread[True] > 0.2, spread


def test_dcgan_generator_uses_moving_averages_when_not_training():
    params = {**GAN_DEFAULTS, **TINY_GAN, "gen_batch_norm": True}

    def build():
        noise = tf.random.normal([6, 8], seed=2)
        generator = get_network("dcgan", "generator")
        with tf.compat.v1.variable_scope("g"):
            batch = generator(noise, params, training=False)
        with tf.compat.v1.variable_scope("g", reuse=True):
            alone = generator(noise[:1], params, training=False)
            trained = generator(noise[:1], params, training=True)
        return batch[:1], alone, trained

    batch, alone, trained = _run(build)
    np.testing.assert_allclose(batch, alone, atol=1e-6)  # no dependence on the rest of the batch
    assert not np.allclose(alone, trained)  # batch statistics of one image differ


def test_dcgan_layers_have_no_bias_under_batch_norm():
    def variables(batch_norm):
        with tf.Graph().as_default():
            tf.compat.v1.set_random_seed(0)
            params = {**GAN_DEFAULTS, **TINY_GAN, "gen_batch_norm": batch_norm}
            get_network("dcgan", "generator")(tf.zeros([2, 8]), params)
            return {v.op.name for v in tf.compat.v1.global_variables()}

    with_bn, without = variables(True), variables(False)
    assert "fc0/bias" in without and "fc0/bias" not in with_bn
    assert {"fc0_bn/moving_mean", "up1_bn/gamma"} <= with_bn
    assert "to_image/bias" in with_bn  # the output layer is not normalized
