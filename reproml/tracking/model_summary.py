"""What a model is: its parameter count, size on disk and a per-layer summary.

`graph_layer_summary` builds a network once in a graph of its own (batch dimension unknown)
and reads, per top-level name scope (``conv0``, ``pool0``, ``dense``, ...): the output shape
(the last batch-dependent tensor made in that scope) and the parameters (the trainable
variables in it). `record_model_summary` stores it as ``info["model_summary"]``::

    {"parameters": 206922, "layers": [{"name": "conv0", "output_shape": [null, 28, 28, 32],
     "parameters": 832}, ...], "checkpoint_bytes": 2484131, "saved_model_bytes": 860245}

`reproml show` prints it and the leaderboard shows ``params`` and ``size``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

SUMMARY_KEY = "model_summary"


def graph_layer_summary(
    build: Callable[[Any], Any], input_shape: Sequence[int], input_dtype: str = "uint8"
) -> list[dict[str, Any]]:
    """Return ``[{"name", "output_shape", "parameters"}]`` of the layers `build` makes.

    Args:
      build: called with a placeholder [None, *input_shape] inside a fresh graph; builds the
        network (its return value is ignored).
      input_shape: the shape of one example.
      input_dtype: the placeholder's dtype.
    """
    import numpy as np
    import tensorflow as tf

    with tf.Graph().as_default() as graph:
        tf.compat.v1.set_random_seed(0)  # only shapes are read; op determinism needs a seed
        inputs = tf.compat.v1.placeholder(tf.as_dtype(input_dtype), [None, *input_shape])
        build(inputs)
        order: list[str] = []
        shapes: dict[str, list[int | None]] = {}
        for op in graph.get_operations():
            if "/" not in op.name:
                continue  # the input and ops outside any layer scope (casts, scaling)
            scope = op.name.split("/", 1)[0]
            for tensor in op.outputs:
                shape = tensor.shape
                if shape.rank and shape.rank >= 1 and shape[0] is None:
                    if scope not in shapes:
                        order.append(scope)
                    shapes[scope] = shape.as_list()
        params: dict[str, int] = {}
        for variable in tf.compat.v1.trainable_variables():
            scope = variable.op.name.split("/", 1)[0]
            params[scope] = params.get(scope, 0) + int(np.prod(variable.shape.as_list()))
            if scope not in shapes:
                order.append(scope)
    return [
        {"name": scope, "output_shape": shapes.get(scope), "parameters": params.get(scope, 0)}
        for scope in order
    ]


def directory_bytes(path: str | os.PathLike) -> int:
    """Return the total size of the files under `path` (a file: its size)."""
    path = Path(path)
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def checkpoint_bytes(prefix: str | os.PathLike) -> int:
    """Return the size of a checkpoint's files (``prefix.index`` and ``prefix.data-*``)."""
    prefix = Path(prefix)
    return sum(p.stat().st_size for p in prefix.parent.glob(prefix.name + ".*") if p.is_file())


def record_model_summary(
    run: Any,
    layers: list[dict[str, Any]],
    *,
    checkpoint: str | None = None,
    saved_model: str | os.PathLike | None = None,
) -> dict[str, Any]:
    """Record ``info["model_summary"]`` (see the module docstring) and return it.

    Args:
      run: the Sacred run.
      layers: `graph_layer_summary` of the model.
      checkpoint: the checkpoint prefix the run reports (its files' size is recorded).
      saved_model: the exported SavedModel directory (its size is recorded).
    """
    summary: dict[str, Any] = {
        "parameters": sum(layer["parameters"] for layer in layers),
        "layers": layers,
    }
    if checkpoint:
        summary["checkpoint_bytes"] = checkpoint_bytes(checkpoint)
    if saved_model:
        summary["saved_model_bytes"] = directory_bytes(saved_model)
    run.info[SUMMARY_KEY] = summary
    return summary


def format_bytes(size: int | None) -> str | None:
    """Format a byte count as ``812 B``, ``3.4 KB``, ``2.5 MB`` (None stays None).

    Decimal units, as the leaderboard's ``size_mb``.
    """
    if size is None:
        return None
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return None


def format_shape(shape: Sequence[int | None] | None) -> str:
    """Format an output shape as ``(None, 28, 28, 32)``."""
    if shape is None:
        return "-"
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + ")"
