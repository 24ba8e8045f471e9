"""A Keras model as the classifier's network, built inside the Estimator's `model_fn`.

``params["network"]`` may be, besides a file name in `reproml/models/networks/`, a
``tf.keras.Model`` or a function ``params -> tf.keras.Model`` defined in the user's experiment
file. The model maps the classifier's float32 images in [0, 1] [B, H, W, C] to features
[B, D] (or a feature map [B, h, w, D], averaged over h and w); the classifier adds the logits
layer on top, so the features are the exported ``embedding``. The model is built anew in every
graph the Estimator makes (a model object is cloned: same architecture, fresh weights), so
checkpoints, export, drift and reproduce work as for the file networks.

Reproducibility: Keras draws the seeds of unseeded initializers and dropout from its own seed
source; `graph_seeded_keras` seeds it from the graph seed while the model is built and called,
so two trainings with one seed start from the same weights, whatever else the process seeded.
"""

from __future__ import annotations

import contextlib
import inspect
import random
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf

from reproml.errors import ConfigError
from reproml.models.network_output import NetworkOutput
from reproml.models.networks import glorot_uniform


def is_keras_network(network: Any) -> bool:
    """Whether ``params["network"]`` is a Keras model or a function returning one (not a name)."""
    return not isinstance(network, str) and callable(network)


class ClonedModel:
    """A function ``params -> tf.keras.Model`` returning a fresh clone of `model` each call.

    The Estimator deep-copies its params, which a Keras model (holding locks) refuses; this
    stand-in copies as itself.
    """

    def __init__(self, model: tf.keras.Model) -> None:
        self.model = model

    def __call__(self, params: Mapping[str, Any]) -> tf.keras.Model:
        """Return a clone of the model: same architecture and layer names, fresh weights."""
        return tf.keras.models.clone_model(self.model)

    def __deepcopy__(self, memo: dict) -> ClonedModel:
        return self


def as_network_builder(network: Any) -> Any:
    """Return ``params["network"]`` with a Keras model object replaced by its `ClonedModel`."""
    return ClonedModel(network) if isinstance(network, tf.keras.Model) else network


def network_label(network: Any) -> str:
    """Name ``params["network"]`` for the record (``info["model"]``).

    A file network's name; ``keras:<file>:<function>`` for a function (its source file's name:
    the same whether the file ran as ``__main__`` or was imported); ``keras:<model name>`` for a
    model object.
    """
    if isinstance(network, str):
        return network
    if isinstance(network, tf.keras.Model | ClonedModel):
        return f"keras:{getattr(network, 'model', network).name}"
    try:
        where = Path(inspect.getsourcefile(network) or "?").name
    except TypeError:  # a callable object, not a function: its class's file
        where = Path(inspect.getsourcefile(type(network)) or "?").name
    return f"keras:{where}:{getattr(network, '__qualname__', type(network).__name__)}"


@contextlib.contextmanager
def graph_seeded_keras() -> Iterator[None]:
    """Seed Keras' seed source from the default graph's seed meanwhile.

    `tf.keras.utils.set_random_seed` is the public way to fix where Keras draws unseeded
    initializer and dropout seeds from (once anyone in the process called it, e.g. the user's
    experiment file, Keras stops drawing from Python's `random`). It also seeds Python's
    `random` and NumPy: their states are restored after; the graph seed it sets is the one the
    graph already had.
    """
    seed = tf.compat.v1.get_default_graph().seed
    python_state, numpy_state = random.getstate(), np.random.get_state()
    tf.keras.utils.set_random_seed(0 if seed is None else int(seed))
    try:
        yield
    finally:
        random.setstate(python_state)
        np.random.set_state(numpy_state)


def build_keras_model(network: Any, params: Mapping[str, Any]) -> tf.keras.Model:
    """Return a fresh Keras model from `network` (a model is cloned; a function is called).

    Raises:
      ConfigError: the function does not return a ``tf.keras.Model``.
    """
    model = as_network_builder(network)(dict(params))
    if not isinstance(model, tf.keras.Model):
        raise ConfigError(
            "network",
            f"a tf.keras.Model, or a function returning one ({network_label(network)} returned)",
            type(model).__name__,
        )
    return model


def keras_features(model: tf.keras.Model, inputs: tf.Tensor, training: bool) -> tf.Tensor:
    """Call `model` on `inputs`; return its output as features [B, D] (a map is averaged).

    Raises:
      ConfigError: the model's output is not [B, D] or [B, h, w, D].
    """
    features = model(inputs, training=training)
    if isinstance(features, tf.Tensor) and features.shape.rank == 4:
        features = tf.reduce_mean(features, axis=[1, 2], name="global_pool")
    if not isinstance(features, tf.Tensor) or features.shape.rank != 2:
        got = getattr(features, "shape", type(features).__name__)
        raise ConfigError(
            "network",
            f"a Keras model returning features [B, D] or [B, h, w, D] ({model.name})",
            got,
        )
    return features


def logits_layer(embedding: tf.Tensor, num_classes: int) -> tf.Tensor:
    """The classifier head: a dense layer ``logits`` [B, num_classes] on the embedding."""
    return tf.compat.v1.layers.dense(
        embedding, int(num_classes), kernel_initializer=glorot_uniform(), name="logits"
    )


def _output_shape(layer: tf.keras.layers.Layer, chained: Any) -> list[int | None] | None:
    """The layer's output shape: its output tensor's, else computed from `chained` (input)."""
    try:
        return layer.output.shape.as_list()
    except (AttributeError, ValueError, RuntimeError):  # a Sequential called without an Input
        pass
    try:
        return tf.TensorShape(layer.compute_output_shape(chained)).as_list()
    except (NotImplementedError, ValueError, TypeError):
        return None


def keras_layer_summary(
    model: tf.keras.Model, inputs: tf.Tensor, logits: tf.Tensor
) -> list[dict[str, Any]]:
    """Return ``[{"name", "output_shape", "parameters"}]`` of the model's layers and the head.

    ``parameters`` is Keras' ``count_params`` (batch-norm statistics included).
    """
    rows = []
    chained = inputs.shape
    for layer in model.layers:
        shape = _output_shape(layer, chained)
        chained = shape
        rows.append({"name": layer.name, "output_shape": shape, "parameters": layer.count_params()})
    head = [v for v in tf.compat.v1.trainable_variables() if v.op.name.startswith("logits/")]
    rows.append(
        {
            "name": "logits",
            "output_shape": logits.shape.as_list(),
            "parameters": sum(int(v.shape.num_elements()) for v in head),
        }
    )
    return rows


def keras_classifier(
    network: Any, images: tf.Tensor, params: Mapping[str, Any], training: bool
) -> NetworkOutput:
    """Build the user's Keras `network` on `images` (float32 in [0, 1]) plus the logits layer."""
    with graph_seeded_keras():
        model = build_keras_model(network, params)
        embedding = keras_features(model, images, training)
    logits = logits_layer(embedding, params["num_classes"])
    return NetworkOutput(
        logits,
        embedding,
        update_ops=list(model.updates) if training else [],
        layers=keras_layer_summary(model, images, logits),
    )
