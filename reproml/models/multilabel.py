"""The classifier's multi-label head: a sigmoid per class over a label set.

Chosen by the records: a label written by ``MultiLabelHandler`` (decoded to a float32
multi-hot ``[num_classes]``) makes `data_contract.classifier_params_from_manifest` return
``multi_label=True``, and the classifier's `model_fn` hands its logits here::

    network logits [B, L] -> sigmoid -> probabilities [B, L] -> >= threshold -> predicted [B, L]
    labels float32 multi-hot [B, L] -> sigmoid cross-entropy (mean over B x L) -> loss

Eval metrics are named by class (``precision/red``, ``recall/red``, ``average_precision/red``)
plus ``micro_f1``, ``macro_f1``, ``mAP`` and ``subset_accuracy``. Precision, recall and F1
read one streaming count of true positives, false positives and false negatives per label
at ``params["threshold"]``, so they always agree (0 when a denominator is 0, as
`tf.compat.v1.metrics.precision` does). The average precision of a label is
``tf.compat.v1.metrics.auc(curve="PR", summation_method="careful_interpolation")`` over
200 thresholds (an interpolated area under the precision-recall curve, not the step-wise
sum scikit-learn reports; they agree to about 1e-2 on small sets); ``mAP`` is its unweighted
mean over labels.
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping, Sequence
from typing import Any

import tensorflow as tf

from reproml.errors import ConfigError
from reproml.models.optimizers import make_optimizer

ModeKeys = tf.estimator.ModeKeys
MetricOp = tuple[tf.Tensor, tf.Operation]

DEFAULT_THRESHOLD = 0.5  # a label is predicted when its sigmoid probability is >= this
PR_THRESHOLDS = 200  # thresholds of the streaming precision-recall curve behind mAP


def check_threshold(threshold: Any, entry: str = "threshold") -> float:
    """Return `threshold` as a float strictly between 0 and 1.

    Raises:
      ConfigError: it is not a real number in (0, 1) (named as config `entry`).
    """
    if (
        isinstance(threshold, bool)
        or not isinstance(threshold, numbers.Real)
        or not 0.0 < float(threshold) < 1.0
    ):
        raise ConfigError(entry, "a probability strictly between 0 and 1", threshold)
    return float(threshold)


def multilabel_loss(labels: tf.Tensor, logits: tf.Tensor) -> tf.Tensor:
    """Return the sigmoid cross-entropy of multi-hot `labels` [B, L], mean over B x L."""
    return tf.compat.v1.losses.sigmoid_cross_entropy(
        multi_class_labels=tf.cast(labels, tf.float32), logits=logits
    )


def _label_counts(labels: tf.Tensor, predicted: tf.Tensor, num_labels: int) -> MetricOp:
    """Return `(value, update_op)` of [3, L] int64 counts (TP, FP, FN) summed over batches."""
    with tf.compat.v1.variable_scope("label_counts"):
        total = tf.compat.v1.get_local_variable(
            "total",
            shape=[3, num_labels],
            dtype=tf.int64,
            initializer=tf.compat.v1.zeros_initializer(),
            collections=[
                tf.compat.v1.GraphKeys.LOCAL_VARIABLES,
                tf.compat.v1.GraphKeys.METRIC_VARIABLES,
            ],
        )
        truth = tf.cast(labels > 0.5, tf.int64)
        guess = tf.cast(predicted, tf.int64)
        batch = tf.stack(
            [
                tf.reduce_sum(truth * guess, axis=0),
                tf.reduce_sum((1 - truth) * guess, axis=0),
                tf.reduce_sum(truth * (1 - guess), axis=0),
            ]
        )
        update_op = tf.compat.v1.assign_add(total, batch)
        return tf.identity(total), update_op


def _ratio(numerator: tf.Tensor, denominator: tf.Tensor) -> tf.Tensor:
    return tf.math.divide_no_nan(tf.cast(numerator, tf.float32), tf.cast(denominator, tf.float32))


def multilabel_metrics(
    labels: tf.Tensor,
    probabilities: tf.Tensor,
    class_names: Sequence[str],
    threshold: float,
) -> dict[str, MetricOp]:
    """Return the eval metric ops of the multi-label head, named by class.

    Args:
      labels: float32 multi-hot [B, L].
      probabilities: sigmoid probabilities [B, L].
      class_names: the L class names, in index order (the metric names).
      threshold: a label is predicted when its probability is >= `threshold`.

    Returns:
      ``precision/<name>``, ``recall/<name>``, ``average_precision/<name>`` per class;
      ``micro_f1``, ``macro_f1`` (unweighted mean of the per-class F1), ``mAP`` (unweighted
      mean of the average precisions) and ``subset_accuracy`` (share of examples whose whole
      label set is predicted exactly).
    """
    labels = tf.cast(labels, tf.float32)
    predicted = probabilities >= threshold
    counts, update_op = _label_counts(labels, predicted, len(class_names))
    tp, fp, fn = counts[0], counts[1], counts[2]
    precision = _ratio(tp, tp + fp)
    recall = _ratio(tp, tp + fn)
    f1 = _ratio(2 * tp, 2 * tp + fp + fn)
    total_tp, total_fp, total_fn = (tf.reduce_sum(c) for c in (tp, fp, fn))
    metrics: dict[str, MetricOp] = {
        "micro_f1": (_ratio(2 * total_tp, 2 * total_tp + total_fp + total_fn), update_op),
        "macro_f1": (tf.reduce_mean(f1), update_op),
        "subset_accuracy": tf.compat.v1.metrics.mean(
            tf.reduce_all(tf.equal(predicted, labels > 0.5), axis=1)
        ),
    }
    average_precisions, ap_updates = [], []
    for i, name in enumerate(class_names):
        metrics[f"precision/{name}"] = (precision[i], update_op)
        metrics[f"recall/{name}"] = (recall[i], update_op)
        ap = tf.compat.v1.metrics.auc(
            labels[:, i],
            probabilities[:, i],
            num_thresholds=PR_THRESHOLDS,
            curve="PR",
            summation_method="careful_interpolation",
            name=f"average_precision_{i}",
        )
        metrics[f"average_precision/{name}"] = ap
        average_precisions.append(ap[0])
        ap_updates.append(ap[1])
    metrics["mAP"] = (tf.reduce_mean(tf.stack(average_precisions)), tf.group(*ap_updates))
    return metrics


def multilabel_spec(
    mode: str,
    logits: tf.Tensor,
    embedding: tf.Tensor,
    labels: tf.Tensor | None,
    params: Mapping[str, Any],
) -> tf.estimator.EstimatorSpec:
    """Return the classifier's EstimatorSpec for `mode` with the multi-label head.

    TRAIN minimizes `multilabel_loss` with ``params["optimizer"]`` at ``params["lr"]``;
    EVAL adds `multilabel_metrics`; PREDICT (and the SavedModel's ``serving_default``)
    returns ``probabilities`` [B, L] (sigmoid, columns in ``class_names`` order),
    ``predicted`` int64 multi-hot [B, L] at ``params["threshold"]`` and ``embedding``.
    """
    probabilities = tf.sigmoid(logits)
    threshold = check_threshold(params["threshold"])
    if mode == ModeKeys.PREDICT:
        predictions = {
            "probabilities": probabilities,
            "predicted": tf.cast(probabilities >= threshold, tf.int64),
            "embedding": embedding,
        }
        export = tf.estimator.export.PredictOutput(predictions)
        return tf.estimator.EstimatorSpec(
            mode, predictions=predictions, export_outputs={"serving_default": export}
        )
    loss = multilabel_loss(labels, logits)
    if mode == ModeKeys.TRAIN:
        optimizer = make_optimizer(params["optimizer"], params["lr"])
        step = tf.compat.v1.train.get_or_create_global_step()
        return tf.estimator.EstimatorSpec(
            mode, loss=loss, train_op=optimizer.minimize(loss, global_step=step)
        )
    names = params["class_names"] or [str(i) for i in range(params["num_classes"])]
    metrics = multilabel_metrics(labels, probabilities, names, threshold)
    return tf.estimator.EstimatorSpec(mode, loss=loss, eval_metric_ops=metrics)
