"""The image classifier as a `tf.estimator` model.

`model_fn` only dispatches by mode to `train_spec`, `eval_spec` and `predict_spec`; each of
those is a module function that can be built and tested on its own. The network comes from
``params["network"]`` (a file in `reproml/models/networks/`), the optimizer from
``params["optimizer"]`` and ``params["lr"]``. Images arrive as uint8 [B, H, W, C] (the input
contract) and are scaled to [0, 1] here, inside the model, so a SavedModel serves raw images.

What the model takes from the data -- ``image_shape``, ``num_classes`` and ``class_names``
(`DATA_PARAMS`) -- has no default: fill it from the records' manifest with
`reproml.models.data_contract.classifier_params_from_manifest`.
"""

from __future__ import annotations

import numbers
import os
from collections.abc import Mapping, Sequence
from typing import Any

import tensorflow as tf

from reproml.errors import ConfigError
from reproml.models.checkpoint import check_checkpoint
from reproml.models.cpu_kernels import use_cpu_kernels
from reproml.models.determinism import run_config
from reproml.models.keras_network import as_network_builder, is_keras_network, keras_classifier
from reproml.models.metrics import classification_metrics
from reproml.models.multilabel import DEFAULT_THRESHOLD, check_threshold, multilabel_spec
from reproml.models.network_output import NetworkOutput, as_network_output
from reproml.models.networks import get_network
from reproml.models.optimizers import make_optimizer

ModeKeys = tf.estimator.ModeKeys

IMAGE_KEY = "image"

# Params the records decide (`data_contract.classifier_params_from_manifest`); no defaults.
DATA_PARAMS: dict[str, str] = {
    "image_shape": "[H, W, C] of the uint8 images (required)",
    "num_classes": "number of logits; labels are int64 in [0, num_classes) (required)",
    "class_names": "names of the classes in index order, or None (optional)",
    "multi_label": "True: the label is a set of classes, a sigmoid head (optional, False)",
}

DEFAULT_PARAMS: dict[str, Any] = {
    "network": "cnn",  # module in reproml/models/networks/, or a Keras model / function (below)
    "filters": [32, 64, 64],  # filter counts of the three conv layers
    "kernel_sizes": [5, 3, 3],  # square kernel sizes of the three conv layers
    "dense_units": 128,  # width of the dense layer (= the embedding)
    "dropout": 0.4,  # dropout rate after the dense layer, training only
    "optimizer": "adam",  # adam, sgd, rmsprop or adagrad
    "lr": 1e-3,  # learning rate
    "class_weights": None,  # loss weight per class index (training only); None: all 1
    "threshold": DEFAULT_THRESHOLD,  # multi-label only: a class is predicted at p >= this
    "backbone": None,  # network "backbone": {"name": "MobileNetV2", ...} (networks/backbone.py)
    "cpu_kernels": None,  # "onednn" or "eigen" (models/cpu_kernels.py); None: the process's
}


def resolve_params(params: Mapping[str, Any] | None) -> dict[str, Any]:
    """Return `DEFAULT_PARAMS` updated with `params`, with the `DATA_PARAMS` checked.

    Raises:
      ConfigError: a key of `params` is not a classifier parameter (likely a typo);
        `image_shape` or `num_classes` is missing (fill them from the records' manifest with
        `classifier_params_from_manifest`); `image_shape` is not [H, W, C] of positive ints;
        `num_classes` is not an int >= 2; `class_names` is not None or `num_classes` names.
    """
    params = dict(params or {})
    unknown = sorted(set(params) - set(DEFAULT_PARAMS) - set(DATA_PARAMS))
    if unknown:
        expected = f"one of the classifier params {sorted({**DEFAULT_PARAMS, **DATA_PARAMS})}"
        raise ConfigError(unknown[0], expected, unknown[0])
    merged = {"class_names": None, "multi_label": False, **DEFAULT_PARAMS, **params}
    merged["network"] = as_network_builder(merged["network"])
    for entry in ("image_shape", "num_classes"):
        if merged.get(entry) is None:
            raise ConfigError(
                entry,
                f"{DATA_PARAMS[entry]}: fill it from the records' manifest with "
                "reproml.models.data_contract.classifier_params_from_manifest",
                None,
            )
    merged["image_shape"] = check_image_shape(merged["image_shape"])
    n = merged["num_classes"]
    if isinstance(n, bool) or not isinstance(n, int) or n < 2:
        raise ConfigError("num_classes", "an int >= 2", n)
    names = merged["class_names"]
    if names is not None:
        if (
            isinstance(names, str)
            or not all(isinstance(name, str) for name in names)
            or len(names) != n
            or len(set(names)) != n
            or "" in names
        ):
            raise ConfigError(
                "class_names", f"None or {n} distinct non-empty str (num_classes)", names
            )
        merged["class_names"] = list(names)
    weights = merged["class_weights"]
    if weights is not None:
        if (
            isinstance(weights, str)
            or not isinstance(weights, Sequence)
            or len(weights) != n
            or not all(
                isinstance(w, numbers.Real) and not isinstance(w, bool) and 0 < w < float("inf")
                for w in weights
            )
        ):
            raise ConfigError("class_weights", f"None or {n} finite weights > 0", weights)
        merged["class_weights"] = [float(w) for w in weights]
    if not isinstance(merged["multi_label"], bool):
        raise ConfigError("multi_label", "True or False", merged["multi_label"])
    if merged["multi_label"] and weights is not None:
        raise ConfigError("class_weights", "None for a multi-label classifier", weights)
    merged["threshold"] = check_threshold(merged["threshold"])
    return merged


def check_image_shape(image_shape: Any, entry: str = "image_shape") -> list[int]:
    """Return `image_shape` as [H, W, C] of positive ints.

    Raises:
      ConfigError: it is not a sequence of three positive ints (named as config `entry`).
    """
    if (
        isinstance(image_shape, str)
        or not isinstance(image_shape, Sequence)
        or len(image_shape) != 3
        or not all(
            isinstance(d, numbers.Integral) and not isinstance(d, bool) and d >= 1
            for d in image_shape
        )
    ):
        raise ConfigError(entry, "[H, W, C] of three positive ints", image_shape)
    return [int(d) for d in image_shape]


def scale_images(features: Mapping[str, tf.Tensor], image_shape: Any = None) -> tf.Tensor:
    """Return ``features["image"]`` (uint8 [B, H, W, C]) as float32 in [0, 1].

    Args:
      features: the model's features.
      image_shape: [H, W, C] the images must have (``params["image_shape"]``); None: any.

    Raises:
      ValueError: there is no "image" feature, it is not a uint8 tensor of rank 4, or its
        [H, W, C] is not `image_shape`.
    """
    if not isinstance(features, Mapping) or IMAGE_KEY not in features:
        got = sorted(features) if isinstance(features, Mapping) else type(features).__name__
        raise ValueError(f"features: expected a dict with key {IMAGE_KEY!r}, got {got}")
    image = features[IMAGE_KEY]
    expected = "[B, H, W, C]" if image_shape is None else f"[B, {', '.join(map(str, image_shape))}]"
    if (
        image.dtype != tf.uint8
        or image.shape.rank != 4
        or (image_shape is not None and not image.shape[1:].is_compatible_with(image_shape))
    ):
        raise ValueError(
            f"features[{IMAGE_KEY!r}]: expected tf.uint8 {expected} (params image_shape), "
            f"got {image.dtype.name} of shape {image.shape}"
        )
    if image_shape is not None:
        image = tf.ensure_shape(image, [None, *image_shape])
    return tf.cast(image, tf.float32) / 255.0


def check_network(network: Any) -> None:
    """Refuse a ``params["network"]`` that is neither a network file nor a Keras model/function.

    Raises:
      ConfigError: no such network file, or it does not define ``classifier()``.
    """
    if not is_keras_network(network):
        get_network(network, "classifier")


def build_network(
    features: Mapping[str, tf.Tensor], params: Mapping[str, Any], training: bool
) -> NetworkOutput:
    """Build ``params["network"]`` (a file network or a Keras model) on the scaled images."""
    images = scale_images(features, params["image_shape"])
    network = params["network"]
    if is_keras_network(network):
        return keras_classifier(network, images, params, training)
    built = get_network(network, "classifier")(images, dict(params), training)
    return as_network_output(built)


def forward(
    features: Mapping[str, tf.Tensor], params: Mapping[str, Any], training: bool
) -> tuple[tf.Tensor, tf.Tensor]:
    """Build the network of ``params["network"]``; returns `(logits, embedding)`."""
    built = build_network(features, params, training)
    return built.logits, built.embedding


def minimize(
    loss: tf.Tensor, built: NetworkOutput, optimizer: tf.compat.v1.train.Optimizer
) -> tf.Operation:
    """Return the train op: `optimizer` on `loss`, as `built` says (update ops, frozen steps)."""
    global_step = tf.compat.v1.train.get_or_create_global_step()
    if built.trainable is None and not built.update_ops:
        return optimizer.minimize(loss, global_step=global_step)
    var_list = None if built.trainable is None else [v for v, _ in built.trainable]
    from_step = {v.ref(): int(k) for v, k in built.trainable or () if k > 0}
    grads_and_vars = []
    for grad, var in optimizer.compute_gradients(loss, var_list=var_list):
        start = from_step.get(var.ref())
        if grad is not None and start is not None:  # frozen before global step `start`
            grad = grad * tf.cast(global_step >= start, grad.dtype)
        grads_and_vars.append((grad, var))
    with tf.control_dependencies(list(built.update_ops)):
        return optimizer.apply_gradients(grads_and_vars, global_step=global_step)


def classifier_loss(
    labels: tf.Tensor, logits: tf.Tensor, class_weights: Sequence[float] | None = None
) -> tf.Tensor:
    """Return the mean cross-entropy, each example weighted by its class's weight (if given).

    With weights w, the loss is ``sum_i w[y_i] * CE_i / B`` (TensorFlow's
    ``SUM_BY_NONZERO_WEIGHTS``; every weight is > 0).
    """
    weights = 1.0
    if class_weights is not None:
        weights = tf.gather(tf.constant(class_weights, tf.float32), labels)
    return tf.compat.v1.losses.sparse_softmax_cross_entropy(
        labels=labels, logits=logits, weights=weights
    )


def train_spec(
    features: Mapping[str, tf.Tensor], labels: tf.Tensor, params: Mapping[str, Any]
) -> tf.estimator.EstimatorSpec:
    """Return the TRAIN spec: (class-weighted) cross-entropy minimized by the optimizer.

    A network's `init_fn` (pretrained weights) runs in the Scaffold when training starts
    without a checkpoint; a checkpoint, when there is one, is restored instead.
    """
    built = build_network(features, params, training=True)
    loss = classifier_loss(labels, built.logits, params.get("class_weights"))
    train_op = minimize(loss, built, make_optimizer(params["optimizer"], params["lr"]))
    scaffold = None
    if built.init_fn is not None:
        init_fn = built.init_fn
        scaffold = tf.compat.v1.train.Scaffold(init_fn=lambda _scaffold, session: init_fn(session))
    return tf.estimator.EstimatorSpec(
        ModeKeys.TRAIN, loss=loss, train_op=train_op, scaffold=scaffold
    )


def eval_spec(
    features: Mapping[str, tf.Tensor], labels: tf.Tensor, params: Mapping[str, Any]
) -> tf.estimator.EstimatorSpec:
    """Return the EVAL spec: loss plus `classification_metrics` (accuracy, precision, ...)."""
    logits, _ = forward(features, params, training=False)
    loss = tf.compat.v1.losses.sparse_softmax_cross_entropy(labels=labels, logits=logits)
    class_ids = tf.argmax(logits, axis=1)
    metrics = classification_metrics(
        labels, class_ids, params["num_classes"], params.get("class_names")
    )
    return tf.estimator.EstimatorSpec(ModeKeys.EVAL, loss=loss, eval_metric_ops=metrics)


def predict_spec(
    features: Mapping[str, tf.Tensor], params: Mapping[str, Any]
) -> tf.estimator.EstimatorSpec:
    """Return the PREDICT spec: `class_ids`, `probabilities` and `embedding` (penultimate layer).

    With ``params["class_names"]``, also `classes`: the predicted class's name (tf.string).
    The same dict is the SavedModel's ``serving_default`` signature output.
    """
    logits, embedding = forward(features, params, training=False)
    class_ids = tf.argmax(logits, axis=1)
    predictions = {
        "class_ids": class_ids,
        "probabilities": tf.nn.softmax(logits),
        "embedding": embedding,
    }
    if params.get("class_names") is not None:
        predictions["classes"] = tf.gather(tf.constant(params["class_names"]), class_ids)
    export = tf.estimator.export.PredictOutput(predictions)
    return tf.estimator.EstimatorSpec(
        ModeKeys.PREDICT, predictions=predictions, export_outputs={"serving_default": export}
    )


def model_fn(
    features: Mapping[str, tf.Tensor],
    labels: tf.Tensor | None,
    mode: str,
    params: Mapping[str, Any],
) -> tf.estimator.EstimatorSpec:
    """Dispatch the Estimator's call by `mode` to `train_spec`, `eval_spec` or `predict_spec`.

    With ``params["multi_label"]`` (the records' label is a set of classes), the network's
    logits go to the sigmoid head instead (`reproml.models.multilabel.multilabel_spec`).
    """
    params = resolve_params(params)
    if params["multi_label"]:
        logits, embedding = forward(features, params, training=mode == ModeKeys.TRAIN)
        return multilabel_spec(mode, logits, embedding, labels, params)
    if mode == ModeKeys.TRAIN:
        return train_spec(features, labels, params)
    if mode == ModeKeys.EVAL:
        return eval_spec(features, labels, params)
    if mode == ModeKeys.PREDICT:
        return predict_spec(features, params)
    raise ValueError(f"mode: expected one of train, eval, infer, got {mode!r}")


def make_classifier(
    model_dir: str | os.PathLike,
    params: Mapping[str, Any] | None,
    seed: int,
    warm_start_from: tf.estimator.WarmStartSettings | str | None = None,
    **run_config_kwargs: Any,
) -> tf.estimator.Estimator:
    """Return the classifier Estimator, seeded and deterministic (see `reproml.models.determinism`).

    Args:
      model_dir: checkpoint and summary directory; a checkpoint already in it must be readable
        and made for these params (`check_classifier_checkpoint`).
      params: classifier params; `image_shape` and `num_classes` (and `class_names`) come from
        the records (`data_contract.classifier_params_from_manifest`), missing others take
        `DEFAULT_PARAMS`.
      seed: graph-level seed of every graph the Estimator builds.
      warm_start_from: a checkpoint (or WarmStartSettings) the trainable variables start from
        when model_dir has no checkpoint (``init_from`` a run: `reproml.tracking.warm_start`).
      **run_config_kwargs: further `tf.estimator.RunConfig` arguments.

    Raises:
      ConfigError: a param is missing, unknown or invalid (network and optimizer are checked
        here, before training; a Keras network is built once aside), or ``cpu_kernels``
        declares kernels the process cannot run any more (`use_cpu_kernels`).
      RecordError: model_dir holds a damaged checkpoint or one of another model.
    """
    params = resolve_params(params)
    use_cpu_kernels(params["cpu_kernels"])  # first: nothing below may run a kernel before it
    check_network(params["network"])
    make_optimizer(params["optimizer"], params["lr"])
    if is_keras_network(params["network"]):
        network_layer_summary(params)  # built aside once: a bad model is refused before training
    check_classifier_checkpoint(model_dir, params)
    return tf.estimator.Estimator(
        model_fn=model_fn,
        config=run_config(model_dir, seed, **run_config_kwargs),
        params=params,
        warm_start_from=warm_start_from,
    )


def classifier_variable_shapes(params: Mapping[str, Any]) -> dict[str, tuple[int, ...]]:
    """Return ``{name: shape}`` of the classifier's model variables for `params` (built aside)."""
    params = resolve_params(params)
    with tf.Graph().as_default():
        tf.compat.v1.set_random_seed(0)  # only shapes are read; op determinism needs a seed
        images = tf.compat.v1.placeholder(tf.uint8, [None, *params["image_shape"]])
        forward({IMAGE_KEY: images}, params, training=False)
        return {v.op.name: tuple(v.shape.as_list()) for v in tf.compat.v1.global_variables()}


def network_layer_summary(params: Mapping[str, Any]) -> list[dict[str, Any]] | None:
    """Return the per-layer summary a Keras network reports (built aside); None for the others."""
    params = resolve_params(params)
    with tf.Graph().as_default():
        tf.compat.v1.set_random_seed(0)  # only shapes are read; op determinism needs a seed
        images = tf.compat.v1.placeholder(tf.uint8, [None, *params["image_shape"]])
        built = build_network({IMAGE_KEY: images}, params, training=False)
        return None if built.layers is None else [dict(row) for row in built.layers]


def check_classifier_checkpoint(model_dir: str | os.PathLike, params: Mapping[str, Any]) -> None:
    """Refuse, in one line, a model_dir whose checkpoint is damaged or not made for `params`.

    A no-op when model_dir has no checkpoint yet. `make_classifier` calls it.

    Raises:
      RecordError: an unreadable/dangling ``checkpoint`` file, a truncated or corrupt
        checkpoint file (named), or a checkpoint made for another image shape, number of
        classes or network.
    """
    params = resolve_params(params)
    described = (
        f"the classifier for image_shape {params['image_shape']}, "
        f"num_classes {params['num_classes']}"
    )
    check_checkpoint(model_dir, lambda: classifier_variable_shapes(params), described)
