"""What a classifier network hands the model_fn: logits, embedding, and how to train it.

The file networks (``cnn``) return ``(logits, embedding)``; Keras networks and backbones return a
`NetworkOutput` that also carries the Keras update ops (batch-norm statistics), the weights to
load when training starts from scratch, and which variables train from which global step.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any


@dataclasses.dataclass
class NetworkOutput:
    """A classifier network built in the Estimator's graph.

    Attributes:
      logits: [B, num_classes].
      embedding: the penultimate layer [B, D] (exported as ``embedding``).
      update_ops: ops to run with each training step (Keras batch-norm moving averages).
      init_fn: ``init_fn(session)`` run once when training starts without a checkpoint (loads
        pretrained weights); None: the initializers alone.
      trainable: ``(variable, from_step)`` pairs: the variables the optimizer updates, each from
        global step `from_step` on (its gradient is zero before); None: every trainable variable
        from step 0.
      layers: ``[{"name", "output_shape", "parameters"}]`` per layer (Keras networks), for the
        run's model summary; None: read from the graph's name scopes.
    """

    logits: Any
    embedding: Any
    update_ops: Sequence[Any] = ()
    init_fn: Callable[[Any], None] | None = None
    trainable: Sequence[tuple[Any, int]] | None = None
    layers: Sequence[dict[str, Any]] | None = None


def as_network_output(built: NetworkOutput | tuple[Any, Any]) -> NetworkOutput:
    """Return `built` as a `NetworkOutput` (a ``(logits, embedding)`` pair gets the defaults)."""
    if isinstance(built, NetworkOutput):
        return built
    logits, embedding = built
    return NetworkOutput(logits, embedding)
