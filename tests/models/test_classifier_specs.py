"""Each spec function of the classifier, built alone in a graph on constant inputs."""

import numpy as np
import pytest
import tensorflow as tf

from reproml.errors import ConfigError
from reproml.models import classifier
from reproml.models.metrics import classification_metrics
from reproml.models.optimizers import OPTIMIZERS, make_optimizer
from tests.models.conftest import TINY_CLASSIFIER

PARAMS = classifier.resolve_params({**TINY_CLASSIFIER, "num_classes": 3})
ModeKeys = tf.estimator.ModeKeys


@pytest.fixture(autouse=True)
def _seeded_default_graph():
    # Every graph gets a seed, as the Estimator's do (op determinism refuses unseeded ops).
    with tf.Graph().as_default() as graph:
        tf.compat.v1.set_random_seed(0)
        yield graph


def _features(batch=4):
    images = np.random.default_rng(0).integers(0, 256, (batch, 28, 28, 1), dtype=np.uint8)
    return {"image": tf.constant(images)}


def _labels(batch=4):
    return tf.constant(np.arange(batch) % 3, tf.int64)


def test_train_spec_alone_updates_weights_and_global_step():
    spec = classifier.train_spec(_features(), _labels(), PARAMS)
    assert spec.mode == ModeKeys.TRAIN and spec.loss.shape == ()
    kernel = [v for v in tf.compat.v1.trainable_variables() if v.name == "logits/kernel:0"][0]
    with tf.compat.v1.Session() as session:
        session.run(tf.compat.v1.global_variables_initializer())
        before = session.run(kernel)
        session.run(spec.train_op)
        after, step = session.run([kernel, tf.compat.v1.train.get_global_step()])
    assert step == 1
    assert not np.array_equal(before, after)


def test_eval_spec_alone_has_every_metric():
    spec = classifier.eval_spec(_features(), _labels(), PARAMS)
    assert spec.mode == ModeKeys.EVAL and spec.train_op is None
    expected = {"accuracy", "mean_precision", "mean_recall", "confusion_matrix"}
    expected |= {f"{kind}/class_{i}" for kind in ("precision", "recall") for i in range(3)}
    assert set(spec.eval_metric_ops) == expected
    assert spec.eval_metric_ops["confusion_matrix"][0].shape == (3, 3)


def test_predict_spec_alone_outputs_classes_probabilities_embedding():
    spec = classifier.predict_spec(_features(batch=5), PARAMS)
    with tf.compat.v1.Session() as session:
        session.run(tf.compat.v1.global_variables_initializer())
        out = session.run(spec.predictions)
    assert out["class_ids"].shape == (5,) and out["class_ids"].dtype == np.int64
    assert out["probabilities"].shape == (5, 3)
    np.testing.assert_allclose(out["probabilities"].sum(axis=1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(out["class_ids"], out["probabilities"].argmax(axis=1))
    assert out["embedding"].shape == (5, TINY_CLASSIFIER["dense_units"])
    assert set(spec.export_outputs) == {"serving_default"}


@pytest.mark.parametrize(
    "mode, expected",
    [
        (ModeKeys.TRAIN, "train_spec"),
        (ModeKeys.EVAL, "eval_spec"),
        (ModeKeys.PREDICT, "predict_spec"),
    ],
)
def test_model_fn_only_dispatches(monkeypatch, mode, expected):
    calls = []
    for name in ("train_spec", "eval_spec", "predict_spec"):
        monkeypatch.setattr(classifier, name, lambda *args, _n=name: calls.append((_n, args[-1])))
    classifier.model_fn({}, None, mode, PARAMS)
    assert calls == [(expected, PARAMS)]


def test_model_fn_rejects_unknown_mode():
    with pytest.raises(ValueError, match="mode"):
        classifier.model_fn({}, None, "tune", PARAMS)


def test_images_are_scaled_to_unit_range_and_must_be_uint8():
    image = tf.constant(np.array([0, 51, 255], np.uint8).reshape(1, 1, 3, 1))
    with tf.compat.v1.Session() as session:
        scaled = session.run(classifier.scale_images({"image": image}))
    np.testing.assert_allclose(scaled.ravel(), [0, 0.2, 1])
    with pytest.raises(ValueError, match=r"features\['image'\]: expected tf.uint8"):
        classifier.scale_images({"image": tf.zeros([1, 2, 2, 1])})
    with pytest.raises(ValueError, match="key 'image'"):
        classifier.scale_images({"pixels": image})


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_optimizers_by_name(name):
    assert isinstance(make_optimizer(name, 0.1), tf.compat.v1.train.Optimizer)


@pytest.mark.parametrize(
    "params, entry",
    [
        ({"optimizer": "lbfgs"}, "optimizer"),
        ({"lr": 0}, "lr"),
        ({"network": "nope"}, "network"),
        ({"num_classes": 1}, "num_classes"),
        ({"num_classes": None}, "num_classes"),
        ({"image_shape": None}, "image_shape"),
        ({"image_shape": [28, 28]}, "image_shape"),
        ({"image_shape": [28, 28, 0]}, "image_shape"),
        ({"image_shape": [28.5, 28, 1]}, "image_shape"),
        ({"class_names": ["a", "b"]}, "class_names"),  # 10 classes
        ({"class_names": "0123456789"}, "class_names"),
        ({"class_names": ["a"] * 10}, "class_names"),  # the per-class metrics would collide
        ({"class_names": [""] + list("abcdefghi")}, "class_names"),
        ({"learning_rate": 0.1}, "learning_rate"),
    ],
)
def test_make_classifier_rejects_bad_params(tmp_path, params, entry):
    with pytest.raises(ConfigError) as err:
        classifier.make_classifier(tmp_path, {**TINY_CLASSIFIER, **params}, seed=0)
    assert err.value.entry == entry
    assert repr(entry) in str(err.value)


def test_missing_data_params_say_where_they_come_from():
    for entry in ("image_shape", "num_classes"):
        params = {k: v for k, v in TINY_CLASSIFIER.items() if k != entry}
        with pytest.raises(ConfigError, match="classifier_params_from_manifest") as err:
            classifier.resolve_params(params)
        assert err.value.entry == entry


def test_images_of_another_shape_than_image_shape_are_refused():
    with pytest.raises(ValueError, match=r"expected tf.uint8 \[B, 14, 14, 1\]"):
        classifier.forward(_features(), {**PARAMS, "image_shape": [14, 14, 1]}, training=False)


def test_predict_spec_names_the_predicted_classes():
    params = {**PARAMS, "class_names": ["zero", "one", "two"]}
    spec = classifier.predict_spec(_features(batch=5), params)
    with tf.compat.v1.Session() as session:
        session.run(tf.compat.v1.global_variables_initializer())
        out = session.run(spec.predictions)
    names = [params["class_names"][i].encode() for i in out["class_ids"]]
    assert out["classes"].tolist() == names


def test_unknown_optimizer_in_train_spec_names_the_entry():
    with pytest.raises(ConfigError, match="'optimizer'"):
        classifier.train_spec(_features(), _labels(), {**PARAMS, "optimizer": "adamw2"})


def test_streaming_metrics_on_known_predictions():
    # Two batches; totals: true 0 0 1 1 2 2, predicted 0 1 1 1 2 0.
    batches = [([0, 0, 1], [0, 1, 1]), ([1, 2, 2], [1, 2, 0])]
    labels = tf.compat.v1.placeholder(tf.int64, [None])
    predicted = tf.compat.v1.placeholder(tf.int64, [None])
    metrics = classification_metrics(labels, predicted, num_classes=3)
    with tf.compat.v1.Session() as session:
        session.run(tf.compat.v1.local_variables_initializer())
        for y, p in batches:
            session.run([op for _, op in metrics.values()], {labels: y, predicted: p})
        values = session.run({k: v for k, (v, _) in metrics.items()})
    np.testing.assert_array_equal(values["confusion_matrix"], [[1, 1, 0], [0, 2, 0], [1, 0, 1]])
    expected = {
        "accuracy": 4 / 6,
        "precision/class_0": 1 / 2,
        "precision/class_1": 2 / 3,
        "precision/class_2": 1.0,
        "recall/class_0": 1 / 2,
        "recall/class_1": 1.0,
        "recall/class_2": 1 / 2,
        "mean_precision": (1 / 2 + 2 / 3 + 1) / 3,
        "mean_recall": (1 / 2 + 1 + 1 / 2) / 3,
    }
    for key, value in expected.items():
        assert values[key] == pytest.approx(value, rel=1e-6), key


def test_per_class_metrics_are_named_by_class_names():
    labels, predicted = tf.constant([0, 1, 2, 2]), tf.constant([0, 1, 1, 2])
    metrics = classification_metrics(labels, predicted, 3, ["circle", "square", "triangle"])
    per_class = sorted(k for k in metrics if "/" in k)
    assert per_class == [
        "precision/circle",
        "precision/square",
        "precision/triangle",
        "recall/circle",
        "recall/square",
        "recall/triangle",
    ]
    with tf.compat.v1.Session() as session:
        session.run(tf.compat.v1.local_variables_initializer())
        session.run(metrics["accuracy"][1])
        assert session.run(metrics["precision/square"][0]) == pytest.approx(0.5)
        assert session.run(metrics["recall/triangle"][0]) == pytest.approx(0.5)


@pytest.mark.parametrize("names", [["a", "a", "b"], ["a", "b"], ["a", "", "b"]])
def test_per_class_names_must_be_distinct_and_one_per_class(names):
    with pytest.raises(ValueError, match="class_names: expected 3 distinct non-empty names"):
        classification_metrics(tf.constant([0]), tf.constant([0]), 3, names)


def test_precision_of_a_never_predicted_class_is_zero():
    metrics = classification_metrics(tf.constant([0, 1]), tf.constant([0, 0]), num_classes=2)
    with tf.compat.v1.Session() as session:
        session.run(tf.compat.v1.local_variables_initializer())
        session.run(metrics["accuracy"][1])
        assert session.run(metrics["precision/class_1"][0]) == 0.0
        assert session.run(metrics["recall/class_1"][0]) == 0.0
