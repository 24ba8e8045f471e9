"""A user's Keras model as the classifier's network: trained, deterministic, exported, summarized.

Tiny 16x16 RGB records (3 colour classes); a Sequential with batch norm and dropout.
"""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from handlers.image import ImageArrayHandler
from handlers.label import ClassLabelHandler
from reproml.errors import ConfigError
from reproml.models.classifier import make_classifier, network_layer_summary
from reproml.models.export import export_classifier
from reproml.models.keras_network import network_label
from reproml.records.reader import input_fn
from tests.models.conftest import write_image_records

SHAPE = (16, 16, 3)
DATA = {"image_shape": list(SHAPE), "num_classes": 3, "class_names": ["red", "green", "blue"]}


def colour_rows(n: int, seed: int) -> list[dict]:
    """`n` noisy 16x16 RGB images whose brightest channel is the label."""
    rng = np.random.RandomState(seed)
    rows = []
    for i in range(n):
        label = i % 3
        image = rng.randint(0, 100, SHAPE).astype(np.uint8)
        image[..., label] += 120
        rows.append({"image": image, "label": label})
    return rows


@pytest.fixture(scope="module")
def rgb_records(tmp_path_factory):
    """24 train + 12 eval RGB records."""
    handlers = {"image": ImageArrayHandler(shape=SHAPE), "label": ClassLabelHandler(num_classes=3)}
    rows = {"train": colour_rows(24, 0), "eval": colour_rows(12, 1)}
    return write_image_records(tmp_path_factory.mktemp("rgb"), handlers, rows, 12)


def small_keras_model(params: dict) -> tf.keras.Model:
    """The user's own network: conv, batch norm, dropout; features [B, 8]."""
    return tf.keras.Sequential(
        [
            tf.keras.layers.Conv2D(4, 3, activation="relu", name="conv"),
            tf.keras.layers.BatchNormalization(name="bn"),
            tf.keras.layers.GlobalAveragePooling2D(name="pool"),
            tf.keras.layers.Dense(8, activation="relu", name="features"),
            tf.keras.layers.Dropout(0.3, name="drop"),
        ],
        name="user_net",
    )


def _train(model_dir, records, network, steps=3):
    params = {**DATA, "network": network, "lr": 0.01}
    estimator = make_classifier(model_dir, params, seed=7)
    estimator.train(input_fn("train", 8, records, random_seed=0), max_steps=steps)
    return estimator


def _weights(estimator) -> dict[str, np.ndarray]:
    reader = tf.train.load_checkpoint(estimator.latest_checkpoint())
    return {name: reader.get_tensor(name) for name in reader.get_variable_to_shape_map()}


@pytest.mark.slow
def test_a_keras_function_trains_deterministically_evaluates_and_exports(rgb_records, tmp_path):
    tf.keras.utils.set_random_seed(3)  # a user's file (or another test) seeding Keras itself
    first = _train(tmp_path / "a", rgb_records, small_keras_model)
    tf.keras.utils.set_random_seed(11)  # changes nothing: the graph seed decides
    second = _train(tmp_path / "b", rgb_records, small_keras_model)
    a, b = _weights(first), _weights(second)
    assert "user_net/conv/kernel" in a and "logits/kernel" in a
    assert a.keys() == b.keys()
    assert all(np.array_equal(a[k], b[k]) for k in a)  # same seed: bit-identical weights
    # batch norm's moving mean was updated by training (the Keras update ops ran)
    assert not np.allclose(a["user_net/bn/moving_mean"], 0.0)
    metrics = first.evaluate(input_fn("eval", 12, rgb_records, n_epochs=1))
    assert 0.0 <= metrics["accuracy"] <= 1.0 and metrics["global_step"] == 3
    exported = export_classifier(first, tmp_path / "export")
    served = tf.saved_model.load(str(exported)).signatures["serving_default"]
    out = served(image=tf.constant(np.zeros((2, *SHAPE), np.uint8)))
    assert out["embedding"].shape == (2, 8)
    assert out["probabilities"].shape == (2, 3)
    assert set(out["classes"].numpy().tolist()) <= {b"red", b"green", b"blue"}


@pytest.mark.slow
def test_a_keras_model_object_is_cloned_and_its_layers_are_summarized(rgb_records, tmp_path):
    model = small_keras_model({})
    assert network_label(model) == "keras:user_net"
    assert network_label(small_keras_model) == "keras:test_keras_network.py:small_keras_model"
    _train(tmp_path / "m", rgb_records, model, steps=1)
    layers = network_layer_summary({**DATA, "network": small_keras_model})
    assert [row["name"] for row in layers] == ["conv", "bn", "pool", "features", "drop", "logits"]
    assert layers[0] == {"name": "conv", "output_shape": [None, 14, 14, 4], "parameters": 112}
    assert layers[1]["parameters"] == 16  # gamma, beta, moving mean and variance
    assert layers[-1] == {"name": "logits", "output_shape": [None, 3], "parameters": 27}


def test_a_function_not_returning_a_keras_model_is_refused_in_one_line(tmp_path):
    def not_a_model(params):
        return "conv"

    with pytest.raises(ConfigError, match=r"config entry 'network': expected a tf.keras.Model"):
        make_classifier(tmp_path, {**DATA, "network": not_a_model}, seed=1)
