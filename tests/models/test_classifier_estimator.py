"""The classifier Estimator trained through the real input_fn on tiny generated records."""

import numpy as np
import pytest
import tensorflow as tf

from reproml.models.classifier import make_classifier, model_fn, resolve_params
from reproml.models.export import export_classifier
from reproml.models.frechet import images_input_fn
from tests.models.conftest import (
    DIGITS_DATA,
    IMAGE_SHAPE,
    SPLIT_SIZES,
    TINY_CLASSIFIER,
    eval_arrays,
)

pytestmark = pytest.mark.slow


def test_graph_builds_from_the_real_input_fn(train_input):
    # TF-GAN's "0 steps" test: the whole train graph builds on what input_fn yields.
    with tf.Graph().as_default():
        features, labels = tf.compat.v1.data.make_one_shot_iterator(train_input()).get_next()
        assert features["image"].dtype == tf.uint8 and labels.dtype == tf.int64
        spec = model_fn(features, labels, tf.estimator.ModeKeys.TRAIN, TINY_CLASSIFIER)
        assert spec.train_op is not None and spec.loss.shape == ()


@pytest.fixture(scope="module")
def trained(tmp_path_factory, digits_records):
    from reproml.records.reader import input_fn

    model_dir = tmp_path_factory.mktemp("classifier")
    estimator = make_classifier(model_dir, {**TINY_CLASSIFIER, "lr": 0.01}, seed=3)
    estimator.train(input_fn("train", 16, digits_records, random_seed=0), steps=6)
    return estimator


def test_train_reaches_the_requested_steps(trained):
    assert trained.get_variable_value("global_step") == 6


def test_evaluate_returns_every_metric_with_its_shape(trained, eval_input, digits_records):
    metrics = trained.evaluate(eval_input)
    scalars = ["accuracy", "mean_precision", "mean_recall", "loss"]
    scalars += [f"{kind}/class_{i}" for kind in ("precision", "recall") for i in range(10)]
    for key in scalars:
        assert np.shape(metrics[key]) == (), key
        assert np.isfinite(metrics[key]), key
    matrix = metrics["confusion_matrix"]
    assert matrix.shape == (10, 10)
    assert matrix.sum() == SPLIT_SIZES["eval"]  # every eval example counted exactly once
    _, labels = eval_arrays(digits_records)
    np.testing.assert_array_equal(matrix.sum(axis=1), np.bincount(labels, minlength=10))
    assert metrics["accuracy"] == pytest.approx(np.trace(matrix) / matrix.sum())
    assert metrics["global_step"] == 6


def test_predict_matches_evaluate(trained, digits_records):
    images, labels = eval_arrays(digits_records)
    predictions = list(trained.predict(images_input_fn(images, batch_size=16)))
    assert len(predictions) == len(images)
    class_ids = np.array([p["class_ids"] for p in predictions])
    matrix = trained.evaluate(images_input_fn_with_labels(images, labels))["confusion_matrix"]
    expected = np.zeros((10, 10), np.int64)
    np.add.at(expected, (labels, class_ids), 1)
    np.testing.assert_array_equal(matrix, expected)


def images_input_fn_with_labels(images, labels):
    return lambda: tf.data.Dataset.from_tensor_slices(({"image": images}, labels)).batch(16)


def test_export_reload_predict_matches_estimator(trained, tmp_path, digits_records):
    images, _ = eval_arrays(digits_records)
    export_dir = export_classifier(trained, tmp_path / "export")
    serve = tf.saved_model.load(str(export_dir)).signatures["serving_default"]
    assert serve.structured_input_signature[1]["image"].dtype == tf.uint8
    assert serve.structured_input_signature[1]["image"].shape.as_list() == [None, *IMAGE_SHAPE]
    served = {k: v.numpy() for k, v in serve(image=tf.constant(images)).items()}
    predicted = list(trained.predict(images_input_fn(images, batch_size=16)))
    for key in ("class_ids", "probabilities", "embedding"):
        expected = np.stack([p[key] for p in predicted])
        np.testing.assert_allclose(served[key], expected, rtol=1e-5, atol=1e-6, err_msg=key)


def _train_and_read(model_dir, seed, records):
    from reproml.records.reader import input_fn

    estimator = make_classifier(model_dir, TINY_CLASSIFIER, seed=seed)
    estimator.train(input_fn("train", 16, records, random_seed=0), steps=3)
    metrics = estimator.evaluate(input_fn("eval", 16, records, n_epochs=1))
    reader = tf.train.load_checkpoint(str(model_dir))
    weights = {name: reader.get_tensor(name) for name in reader.get_variable_to_shape_map()}
    return weights, metrics


def test_same_seed_gives_bit_identical_checkpoints_and_metrics(tmp_path, digits_records):
    first, first_metrics = _train_and_read(tmp_path / "a", 7, digits_records)
    second, second_metrics = _train_and_read(tmp_path / "b", 7, digits_records)
    assert sorted(first) == sorted(second)
    assert "logits/kernel" in first and "conv0/kernel/Adam" in first
    for name in first:
        np.testing.assert_array_equal(first[name], second[name], err_msg=name)
    assert sorted(first_metrics) == sorted(second_metrics)
    for key in first_metrics:
        np.testing.assert_array_equal(first_metrics[key], second_metrics[key], err_msg=key)

    other, _ = _train_and_read(tmp_path / "c", 8, digits_records)
    assert not np.array_equal(first["conv0/kernel"], other["conv0/kernel"])
    assert not np.array_equal(first["logits/kernel"], other["logits/kernel"])


def test_resolve_params_keeps_defaults():
    params = resolve_params({**DIGITS_DATA, "dropout": 0.1})
    assert params["dropout"] == 0.1 and params["network"] == "cnn" and params["optimizer"] == "adam"
