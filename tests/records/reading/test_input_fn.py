"""input_fn: (features, labels) batches, eagerly, in graph mode and inside tf.estimator."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from reproml.errors import ConfigError
from reproml.records.reader import input_fn
from tests.records.reading.tiny_records import SPLIT_SIZES


def test_features_and_labels_match_rows(records):
    record_dir, rows = records
    dataset = input_fn("test", 5, record_dir, n_epochs=1, feature_keys=("image", "value"))()
    features_spec, labels_spec = dataset.element_spec
    assert features_spec["image"] == tf.TensorSpec([None, 8, 8, 1], tf.uint8)
    assert features_spec["value"] == tf.TensorSpec([None, 3], tf.float32)
    assert labels_spec == tf.TensorSpec([None], tf.int64)
    batches = list(dataset.as_numpy_iterator())
    assert [len(labels) for _, labels in batches] == [5, 5, 2]
    images = np.concatenate([f["image"] for f, _ in batches])
    labels = np.concatenate([labels for _, labels in batches])
    np.testing.assert_array_equal(images, np.stack([r["image"] for r in rows["test"]]))
    np.testing.assert_array_equal(labels, [r["label"] for r in rows["test"]])


def test_n_epochs_and_drop_remainder(records):
    record_dir, _ = records
    two = input_fn("train", 8, record_dir, n_epochs=2, random_seed=0)()
    assert sum(len(labels) for _, labels in two) == 2 * SPLIT_SIZES["train"]
    dropped = input_fn("train", 8, record_dir, n_epochs=1, random_seed=0, drop_remainder=True)()
    assert dropped.element_spec[1].shape.as_list() == [8]
    assert [len(labels) for _, labels in dropped] == [8, 8, 8, 8]


def test_predict_mode_yields_features_only(records):
    record_dir, rows = records
    dataset = input_fn("test", 4, record_dir, n_epochs=1, label_key=None, feature_keys=("name",))()
    assert isinstance(dataset.element_spec, dict)
    names = [n.decode() for batch in dataset.as_numpy_iterator() for n in batch["name"]]
    assert names == [r["name"] for r in rows["test"]]


def test_graph_mode_session(records):
    record_dir, rows = records
    with tf.Graph().as_default():
        features, labels = tf.compat.v1.data.make_one_shot_iterator(
            input_fn("test", 12, record_dir, n_epochs=1)()
        ).get_next()
        with tf.compat.v1.Session() as session:
            images, got = session.run([features["image"], labels])
    np.testing.assert_array_equal(got, [r["label"] for r in rows["test"]])
    np.testing.assert_array_equal(images[3], rows["test"][3]["image"])


@pytest.mark.parametrize(
    "kwargs, entry",
    [
        ({"feature_keys": ("pixels",)}, "feature_keys"),
        ({"label_key": "target"}, "label_key"),
        ({"batch_size": -1}, "batch_size"),
        ({"shuffle_buffer": 0}, "shuffle_buffer"),
        ({"n_epochs": 0}, "n_epochs"),
    ],
)
def test_bad_arguments_name_the_entry(records, kwargs, entry):
    record_dir, _ = records
    kwargs = {"batch_size": 4, **kwargs}
    with pytest.raises(ConfigError, match=f"config entry '{entry}'"):
        input_fn("train", record_dir=record_dir, **kwargs)


def linear_model_fn(features, labels, mode):
    """Softmax regression on the flattened image; predicts the class and echoes `index`."""
    images = tf.reshape(tf.cast(features["image"], tf.float32) / 255.0, [-1, 64])
    weights = tf.compat.v1.get_variable("w", [64, 10], initializer=tf.zeros_initializer())
    logits = tf.matmul(images, weights)
    classes = tf.argmax(logits, axis=1)
    if mode == tf.estimator.ModeKeys.PREDICT:
        return tf.estimator.EstimatorSpec(
            mode, predictions={"class": classes, "index": features["index"]}
        )
    loss = tf.compat.v1.losses.sparse_softmax_cross_entropy(labels, logits)
    train_op = tf.compat.v1.train.GradientDescentOptimizer(0.5).minimize(
        loss, global_step=tf.compat.v1.train.get_global_step()
    )
    metrics = {"accuracy": tf.compat.v1.metrics.accuracy(labels, classes)}
    return tf.estimator.EstimatorSpec(mode, loss=loss, train_op=train_op, eval_metric_ops=metrics)


@pytest.mark.slow
def test_estimator_train_evaluate_predict(records, tmp_path):
    record_dir, rows = records
    config = tf.estimator.RunConfig(tf_random_seed=0)
    estimator = tf.estimator.Estimator(linear_model_fn, model_dir=str(tmp_path), config=config)
    keys = ("image", "index")
    estimator.train(input_fn("train", 8, record_dir, feature_keys=keys), steps=30)
    train_eval = estimator.evaluate(
        input_fn("train", 37, record_dir, n_epochs=1, shuffle=False, feature_keys=keys)
    )
    assert train_eval["global_step"] == 30
    # 37 random images, 64 weights per class: 30 steps fit them better than chance (0.1).
    assert train_eval["accuracy"] > 0.3
    predictions = list(
        estimator.predict(
            input_fn("test", 5, record_dir, n_epochs=1, label_key=None, feature_keys=keys)
        )
    )
    assert [int(p["index"]) for p in predictions] == list(range(SPLIT_SIZES["test"]))
    assert all(0 <= p["class"] < 10 for p in predictions)
