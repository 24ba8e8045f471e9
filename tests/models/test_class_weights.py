"""class_weights: "balanced" from the train split's counts (20:1), explicit weights, the loss."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import tensorflow as tf
from sklearn.datasets import load_digits

from handlers.image import ImageArrayHandler
from handlers.label import ClassLabelHandler
from reproml.errors import ConfigError
from reproml.models.class_weights import (
    check_class_weights_policy,
    class_weights_from_policy,
    train_label_counts,
)
from reproml.models.classifier import classifier_loss, resolve_params, train_spec
from reproml.records.manifest import load_manifest
from reproml.records.reader import input_fn
from tests.models.conftest import TINY_CLASSIFIER, write_image_records


@pytest.fixture(scope="module")
def imbalanced_records(tmp_path_factory):
    """40 "zero" vs 2 "one" digits in train (20:1), 4 of each in test, as 28x28x1 records."""
    digits = load_digits()
    zeros, ones = np.flatnonzero(digits.target == 0), np.flatnonzero(digits.target == 1)

    def rows(indices):
        return [{"image": digits.images[i], "label": int(digits.target[i])} for i in indices]

    return write_image_records(
        tmp_path_factory.mktemp("imbalanced"),
        {
            "image": ImageArrayHandler(shape=(28, 28, 1), scale=(0, 16, 0, 255)),
            "label": ClassLabelHandler(names=["zero", "one"]),
        },
        {
            "train": rows(list(zeros[:40]) + list(ones[:2])),
            "test": rows([*zeros[40:44], *ones[2:6]]),
        },
    )


def test_balanced_weights_of_a_20_to_1_split(imbalanced_records):
    manifest = load_manifest(imbalanced_records)
    assert train_label_counts(manifest) == {"zero": 40, "one": 2}
    weights = class_weights_from_policy("balanced", manifest)
    assert weights == pytest.approx([42 / (2 * 40), 42 / (2 * 2)])  # 0.525, 10.5
    assert weights[0] * 40 == pytest.approx(weights[1] * 2)  # both classes weigh the same


def test_counts_read_from_the_records_when_the_manifest_has_none(imbalanced_records):
    manifest = load_manifest(imbalanced_records)
    bare = dataclasses.replace(manifest.splits["train"], label_histogram={})
    manifest.splits["train"] = bare
    assert train_label_counts(manifest) == {"zero": 40, "one": 2}


def test_explicit_weights_by_class_name(imbalanced_records):
    manifest = load_manifest(imbalanced_records)
    assert class_weights_from_policy({"one": 3.0, "zero": 0.5}, manifest) == [0.5, 3.0]
    assert class_weights_from_policy(None, manifest) is None


@pytest.mark.parametrize(
    ("policy", "entry"),
    [
        ("balance", "class_weights"),
        ([1.0, 2.0], "class_weights"),
        ({}, "class_weights"),
        ({"zero": 0.0, "one": 1.0}, "class_weights.zero"),
        ({"zero": float("nan"), "one": 1.0}, "class_weights.zero"),
        ({"zero": True, "one": 1.0}, "class_weights.zero"),
        ({"zero": 1.0, "two": 1.0}, "class_weights.two"),
        ({"zero": 1.0}, "class_weights"),
    ],
)
def test_bad_policy_refused_in_one_line(imbalanced_records, policy, entry):
    with pytest.raises(ConfigError) as info:
        class_weights_from_policy(policy, load_manifest(imbalanced_records))
    assert info.value.entry == entry and "\n" not in str(info.value)


def test_balanced_refuses_a_class_absent_from_train(imbalanced_records):
    manifest = load_manifest(imbalanced_records)
    counts = {"label": {"zero": 40, "one": 0}}
    manifest.splits["train"] = dataclasses.replace(manifest.splits["train"], label_histogram=counts)
    with pytest.raises(ConfigError, match="'one' has no example"):
        class_weights_from_policy("balanced", manifest)
    assert check_class_weights_policy("balanced") == "balanced"


def test_classifier_loss_weights_each_example_by_its_class():
    labels = tf.constant([0, 1, 1], tf.int64)
    logits = tf.constant([[2.0, 0.0], [0.5, 0.0], [0.0, 1.0]])
    per_example = tf.nn.sparse_softmax_cross_entropy_with_logits(labels, logits).numpy()
    weighted = classifier_loss(labels, logits, [0.5, 10.0]).numpy()
    assert weighted == pytest.approx((0.5 * per_example[0] + 10 * per_example[1:].sum()) / 3)
    assert classifier_loss(labels, logits).numpy() == pytest.approx(per_example.mean())


def _train_loss(imbalanced_records, class_weights):
    """The TRAIN spec's loss on the 42 train examples, from the same seeded init."""
    params = resolve_params({**TINY_CLASSIFIER, "num_classes": 2, "dropout": 0.0})
    params["class_weights"] = class_weights
    with tf.Graph().as_default():
        tf.compat.v1.set_random_seed(0)
        features, labels = tf.compat.v1.data.make_one_shot_iterator(
            input_fn("train", 42, imbalanced_records, shuffle=False, n_epochs=1)()
        ).get_next()
        loss = train_spec(features, labels, resolve_params(params)).loss
        with tf.compat.v1.Session() as session:
            session.run(tf.compat.v1.global_variables_initializer())
            return session.run(loss)


def test_training_loss_uses_the_weights(imbalanced_records):
    balanced = class_weights_from_policy("balanced", load_manifest(imbalanced_records))
    plain, weighted = (
        _train_loss(imbalanced_records, None),
        _train_loss(imbalanced_records, balanced),
    )
    again = _train_loss(imbalanced_records, None)
    assert plain == again and weighted != pytest.approx(plain, rel=1e-3)


@pytest.mark.parametrize("weights", [[1.0], [1.0, 0.0], "balanced", [1.0, float("inf")]])
def test_classifier_params_refuse_bad_weights(weights):
    with pytest.raises(ConfigError, match="class_weights"):
        resolve_params({**TINY_CLASSIFIER, "num_classes": 2, "class_weights": weights})
