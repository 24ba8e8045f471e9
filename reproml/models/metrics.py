"""Streaming classification metrics for `EstimatorSpec.eval_metric_ops`, from one confusion matrix.

Every metric is a `(value, update_op)` pair. All of them read one streaming confusion matrix
(rows: true class, columns: predicted class), so they always agree with each other:
``precision/<class> = cm[i, i] / sum(cm[:, i])`` and ``recall/<class> = cm[i, i] / sum(cm[i, :])``
(0 when the denominator is 0, as `tf.compat.v1.metrics.precision` does). ``<class>`` is the
class's name from the records' manifest (``precision/circle``); ``class_<i>`` when the classes
have no names (and in runs recorded before names were used).
"""

from __future__ import annotations

from collections.abc import Sequence

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


def per_class_names(num_classes: int, class_names: Sequence[str] | None = None) -> list[str]:
    """Return the name each class's metrics carry: its class name, else ``class_<i>``.

    Raises:
      ValueError: `class_names` is not `num_classes` distinct non-empty names.
    """
    if class_names is None:
        return [f"class_{i}" for i in range(num_classes)]
    names = list(class_names)
    if len(names) != num_classes or len(set(names)) != len(names) or "" in names:
        raise ValueError(
            f"class_names: expected {num_classes} distinct non-empty names, got {names}"
        )
    return names


def classification_metrics(
    labels: tf.Tensor,
    predictions: tf.Tensor,
    num_classes: int,
    class_names: Sequence[str] | None = None,
) -> dict[str, MetricOp]:
    """Return the eval metric ops of a classifier.

    Keys: ``accuracy``, ``precision/<class>``, ``recall/<class>`` for every class (named by
    `per_class_names`: ``precision/circle`` with `class_names`, else ``precision/class_0``),
    ``mean_precision``, ``mean_recall`` (unweighted means over classes) and
    ``confusion_matrix`` ([C, C], rows true, columns predicted).

    Raises:
      ValueError: `class_names` is not `num_classes` distinct non-empty names.
    """
    names = per_class_names(num_classes, class_names)
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
    for i, name in enumerate(names):
        metrics[f"precision/{name}"] = (precision[i], update_op)
        metrics[f"recall/{name}"] = (recall[i], update_op)
    return metrics
