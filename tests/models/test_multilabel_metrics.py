"""The multi-label head's streaming metrics against scikit-learn on fixed labels and scores."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from sklearn.metrics import average_precision_score, f1_score, precision_score, recall_score

from reproml.errors import ConfigError
from reproml.models.classifier import resolve_params
from reproml.models.multilabel import multilabel_metrics

NAMES = ("apple", "banana", "fig")


def _streamed(labels: np.ndarray, scores: np.ndarray, threshold: float, batch: int) -> dict:
    """The metric values after streaming `labels`/`scores` in batches of `batch`."""
    with tf.Graph().as_default():
        y = tf.compat.v1.placeholder(tf.float32, [None, len(NAMES)])
        p = tf.compat.v1.placeholder(tf.float32, [None, len(NAMES)])
        metrics = multilabel_metrics(y, p, NAMES, threshold)
        updates = tf.group(*(update for _, update in metrics.values()))
        with tf.compat.v1.Session() as session:
            session.run(tf.compat.v1.local_variables_initializer())
            for start in range(0, len(labels), batch):
                feed = {y: labels[start : start + batch], p: scores[start : start + batch]}
                session.run(updates, feed)
            return session.run({key: value for key, (value, _) in metrics.items()})


def test_metrics_streamed_over_batches_agree_with_scikit_learn():
    rng = np.random.default_rng(0)
    labels = (rng.random((50, 3)) < [0.5, 0.3, 0.1]).astype(np.float32)
    scores = np.clip(labels * 0.4 + rng.random((50, 3)) * 0.7, 0, 1).astype(np.float32)
    labels[:, 2] = 0  # "fig" never present: its recall and precision are 0, not NaN
    got = _streamed(labels, scores, threshold=0.6, batch=16)
    predicted = (scores >= 0.6).astype(int)
    for i, name in enumerate(NAMES):
        assert got[f"precision/{name}"] == pytest.approx(
            precision_score(labels[:, i], predicted[:, i], zero_division=0)
        )
        assert got[f"recall/{name}"] == pytest.approx(
            recall_score(labels[:, i], predicted[:, i], zero_division=0)
        )
    assert got["micro_f1"] == pytest.approx(f1_score(labels, predicted, average="micro"))
    assert got["macro_f1"] == pytest.approx(
        f1_score(labels, predicted, average="macro", zero_division=0)
    )
    assert got["subset_accuracy"] == pytest.approx(np.mean((predicted == labels).all(axis=1)))
    # interpolated PR area (careful_interpolation) vs scikit-learn's step-wise sum
    for i, name in enumerate(NAMES[:2]):
        expected = average_precision_score(labels[:, i], scores[:, i])
        assert got[f"average_precision/{name}"] == pytest.approx(expected, abs=0.05)
    aps = [got[f"average_precision/{name}"] for name in NAMES]
    assert got["mAP"] == pytest.approx(np.mean(aps))
    assert not [key for key in got if "class_" in key]


@pytest.mark.parametrize(
    ("update", "message"),
    [
        ({"threshold": 1.0}, "config entry 'threshold'"),
        ({"multi_label": "yes"}, "config entry 'multi_label'"),
        ({"multi_label": True, "class_weights": [1.0, 2.0]}, "config entry 'class_weights'"),
    ],
)
def test_bad_multi_label_params_are_refused(update, message):
    params = {"image_shape": [8, 8, 3], "num_classes": 2, **update}
    with pytest.raises(ConfigError, match=message):
        resolve_params(params)
