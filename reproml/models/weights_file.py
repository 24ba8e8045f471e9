"""Keras ``.h5`` weights files: read (hash-checked) into a graph, and written from a checkpoint.

The format is Keras' own (``model.save_weights("w.h5")``): the root's ``layer_names``
attribute lists the layers; each layer's group lists its ``weight_names``, in the order of
``layer.weights``. `read_weights_file` reads one (refusing a file whose sha256 is not the
expected one), `weights_init_fn` makes the ops that load it into a model built in the
Estimator's graph (run by the Scaffold when training starts from scratch), and
`write_weights_file` writes a model's values in that format, so weights saved from a run are a
valid weights file for the next.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from reproml.errors import RecordError
from reproml.lazy import lazy_import
from reproml.records.atomic_write import write_atomic
from reproml.records.file_hash import file_sha256

tf = lazy_import("tensorflow")

FIX = "Give a Keras .h5 weights file (model.save_weights('weights.h5')) of this backbone"


def _text(value: Any) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def read_weights_file(path: str | os.PathLike, sha256: str | None) -> dict[str, list[np.ndarray]]:
    """Return ``{layer name: [arrays in layer.weights order]}`` of the weights file at `path`.

    Args:
      path: a Keras ``.h5`` weights file.
      sha256: the hex sha256 the file must have; None: any.

    Raises:
      RecordError: the file is missing, is not a Keras .h5 weights file, or its sha256 is not
        `sha256` (the message names the file and both hashes).
    """
    path = Path(path)
    if not path.is_file():
        raise RecordError(str(path), "no such weights file", FIX)
    if sha256 is not None:
        _, actual = file_sha256(path)
        if actual != sha256.lower():
            raise RecordError(
                str(path), f"weights file has sha256 {actual}, expected {sha256.lower()}"
            )
    try:
        with h5py.File(path, "r") as f:
            group = f["model_weights"] if "model_weights" in f else f
            weights = {}
            for layer in map(_text, group.attrs["layer_names"]):
                names = map(_text, group[layer].attrs["weight_names"])
                weights[layer] = [np.asarray(group[layer][name]) for name in names]
    except (OSError, KeyError, ValueError) as err:
        raise RecordError(str(path), f"not a Keras .h5 weights file ({err})", FIX) from None
    return weights


def weights_init_fn(
    model: tf.keras.Model, weights: Mapping[str, Sequence[np.ndarray]], source: str
) -> Callable[[Any], None]:
    """Return ``init_fn(session)`` assigning `weights` to `model`'s layers (built in this graph).

    Layers are matched by name; every layer with weights must be in `weights`, with the same
    number and shapes of arrays.

    Raises:
      RecordError: a layer is missing from the file or its arrays do not fit (names the file
        `source`, the layer and both shapes).
    """
    feeds, assigns = {}, []
    for layer in model.layers:
        if not layer.weights:
            continue
        values = weights.get(layer.name)
        if values is None:
            raise RecordError(
                source, f"has no weights for layer {layer.name!r} of {model.name}", FIX
            )
        expected = [tuple(w.shape.as_list()) for w in layer.weights]
        got = [tuple(v.shape) for v in values]
        if expected != got:
            raise RecordError(
                source,
                f"layer {layer.name!r} of {model.name}: expected weights of shapes {expected}, "
                f"the file holds {got}",
                FIX,
            )
        for variable, value in zip(layer.weights, values, strict=True):
            placeholder = tf.compat.v1.placeholder(variable.dtype.base_dtype, variable.shape)
            assigns.append(variable.assign(placeholder, read_value=False))
            feeds[placeholder] = value
    load = tf.group(*assigns, name="load_backbone_weights")

    def init_fn(session: Any) -> None:
        session.run(load, feed_dict=feeds)

    return init_fn


def write_weights_file(
    path: str | os.PathLike, layers: Sequence[tuple[str, Sequence[np.ndarray]]]
) -> str:
    """Write ``[(layer name, arrays)]`` as a Keras ``.h5`` weights file (atomically).

    Returns:
      The file's sha256.
    """
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as f:
        f.attrs["layer_names"] = [name.encode("utf-8") for name, _ in layers]
        f.attrs["backend"] = b"tensorflow"
        for name, arrays in layers:
            group = f.create_group(name)
            names = [f"{name}/weight_{i}" for i in range(len(arrays))]
            group.attrs["weight_names"] = [n.encode("utf-8") for n in names]
            for weight_name, array in zip(names, arrays, strict=True):
                group.create_dataset(weight_name, data=np.asarray(array))
    return write_atomic(path, buffer.getvalue())
