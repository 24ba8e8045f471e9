"""Streaming classification metrics for `EstimatorSpec.eval_metric_ops`, from one confusion matrix.

Every metric is a `(value, update_op)` pair. All of them read one streaming confusion matrix
(rows: true class, columns: predicted class), so they always agree with each other:
``precision/class_i = cm[i, i] / sum(cm[:, i])`` and ``recall/class_i = cm[i, i] / sum(cm[i, :])``
(0 when the denominator is 0, as `tf.compat.v1.metrics.precision` does).
"""

from __future__ import annotations

import tensorflow as tf

MetricOp = tuple[tf.Tensor, tf.Operation]


def streaming_confusion_matrix(
    labels: tf.Tensor, predictions: tf.Tensor, num_classes: int, name: str = "confusion_matrix"
) -> MetricOp:
    """Return `(value, update_op)` of a [C, C] int64 confusion matrix summed over batches.

    The counts live in a local metric variable, so the Estimator resets them at each evaluation.
    """
    with tf.compat.v1.variable_scope(name):
        total = tf.compat.v1.get_local_variable(
            "total",
            shape=[num_classes, num_classes],
            dtype=tf.int64,
            initializer=tf.compat.v1.zeros_initializer(),
            collections=[
                tf.compat.v1.GraphKeys.LOCAL_VARIABLES,
                tf.compat.v1.GraphKeys.METRIC_VARIABLES,
            ],
        )
        batch = tf.math.confusion_matrix(
            tf.reshape(labels, [-1]),
            tf.reshape(predictions, [-1]),
            num_classes=num_classes,
            dtype=tf.int64,
        )
        update_op = tf.compat.v1.assign_add(total, batch)
        return tf.identity(total), update_op


def _safe_divide(numerator: tf.Tensor, denominator: tf.Tensor) -> tf.Tensor:
    return tf.math.divide_no_nan(tf.cast(numerator, tf.float32), tf.cast(denominator, tf.float32))


def classification_metrics(
    labels: tf.Tensor, predictions: tf.Tensor, num_classes: int
) -> dict[str, MetricOp]:
    """Return the eval metric ops of a classifier.

    Keys: ``accuracy``, ``precision/class_<i>``, ``recall/class_<i>`` for every class,
    ``mean_precision``, ``mean_recall`` (unweighted means over classes) and
    ``confusion_matrix`` ([C, C], rows true, columns predicted).
    """
    labels = tf.cast(tf.reshape(labels, [-1]), tf.int64)
    predictions = tf.cast(tf.reshape(predictions, [-1]), tf.int64)
    cm, update_op = streaming_confusion_matrix(labels, predictions, num_classes)
    diagonal = tf.linalg.diag_part(cm)
    precision = _safe_divide(diagonal, tf.reduce_sum(cm, axis=0))
    recall = _safe_divide(diagonal, tf.reduce_sum(cm, axis=1))
    metrics: dict[str, MetricOp] = {
        "accuracy": (_safe_divide(tf.reduce_sum(diagonal), tf.reduce_sum(cm)), update_op),
        "mean_precision": (tf.reduce_mean(precision), update_op),
        "mean_recall": (tf.reduce_mean(recall), update_op),
        "confusion_matrix": (cm, update_op),
    }
    for i in range(num_classes):
        metrics[f"precision/class_{i}"] = (precision[i], update_op)
        metrics[f"recall/class_{i}"] = (recall[i], update_op)
    return metrics
