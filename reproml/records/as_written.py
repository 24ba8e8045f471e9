"""The reader's `tf.data` functions are traced as written, without AutoGraph's conversion.

`tf.data.Dataset.map` runs every function it is given through AutoGraph, which rewrites its
Python source (and that of everything it calls) so that ``if``/``for`` on tensors become graph
control flow. The reader's functions need none of that: their only Python branches test
static settings (the manifest's encodings, the size policy), and their tensor control flow is
written with `tf.cond` / `tf.switch_case` / `tf.map_fn`. Converting them cost 0.66 CPU-s in
every process that reads records (measured on ``python -m experiments.mnist with quick``:
`FeatureSpec.decode` 0.22 s, `shard_content` 0.20 s, the rest 0.24 s). Functions a user
passes in are not marked and keep AutoGraph.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from reproml.lazy import lazy_import

tf = lazy_import("tensorflow")

F = TypeVar("F", bound=Callable)


def as_written(function: F) -> F:
    """Returns `function` marked so that `tf.data` traces it without AutoGraph's conversion.

    Everything it calls is traced as written too, so it must not call a user's function.

    Args:
      function: a function of tensors whose Python control flow depends on no tensor.
    """
    return tf.autograph.experimental.do_not_convert(function)
