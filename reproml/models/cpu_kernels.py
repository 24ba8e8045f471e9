"""Which CPU kernels a process's TensorFlow runs: oneDNN's or Eigen's, declared and checked.

TensorFlow 2.15 on x86 Linux runs convolutions, matmuls and pooling either with its own Eigen
kernels or with oneDNN's. ``TF_ENABLE_ONEDNN_OPTS`` chooses (1: oneDNN, 0: Eigen; unset: oneDNN
only on CPUs with AVX-512 VNNI/BF16/AMX), and TensorFlow reads it once, when it loads (``import
tensorflow``, by whatever module imports it first): after that the process keeps its choice,
whatever the variable says. The two give different floating-point sums, so the same seed
trains to different weights with each; each is deterministic on its own (two runs with the
same kernels are bit-equal, `tests/models/test_cpu_kernels.py`). On the 2-core AVX2 machine of
`docs/performance.md` (benchmark 8), oneDNN trains the default classifier with about half the
CPU time per step.

A classifier declares its kernels in ``params["cpu_kernels"]``: "onednn", "eigen", or None
(whichever the process runs: what every run recorded before the declaration existed ran). The
recipe's ``cpu_kernels`` config entry declares `DEFAULT_CPU_KERNELS`, oneDNN's, in every new
recipe run, and its config hook applies it before the run starts
(`reproml.recipes.classifier_experiment`): the modules a recipe file imports do not load
TensorFlow. `make_classifier`'s own default is None: its module loads TensorFlow, so a default
declared there could never be applied, only refused. `use_cpu_kernels` applies a declaration
while TensorFlow is not loaded yet and refuses, in one line naming the fix, one the process
cannot honour (a file that imported TensorFlow at its top, started without
``TF_ENABLE_ONEDNN_OPTS=1``, runs what TensorFlow chose then); `cpu_kernels` asks TensorFlow
which kernels actually run. So a run never records kernels it did not run. Importing reproml
sets nothing: only a declaration, when a run applies it, sets the variable.
"""

from __future__ import annotations

import os

from reproml.errors import ConfigError

ONEDNN_ENV = "TF_ENABLE_ONEDNN_OPTS"
CPU_KERNELS = ("eigen", "onednn")
DEFAULT_CPU_KERNELS = "onednn"  # new recipe runs (benchmark 8: >= 1.5x a Keras fit)


def cpu_kernels() -> str:
    """Return "onednn" or "eigen": the CPU kernels this process's TensorFlow runs (fixes them).

    Asked of TensorFlow itself: one 1x1 convolution is run in a graph of its own, and oneDNN's
    graph rewrite, when on, replaces its ``Conv2D`` by a ``_Mkl...`` op of the graph that ran.
    (TensorFlow's Python ``IsMklEnabled`` reads ``TF_ENABLE_ONEDNN_OPTS`` apart from the kernels'
    own once-only read, so it can disagree with what runs: after an op ran with the variable
    unset, setting it makes ``IsMklEnabled`` say oneDNN while Eigen's kernels keep running.)
    """
    # Deferred: TensorFlow is heavy, and a caller may set ONEDNN_ENV before it loads.
    import numpy as np
    import tensorflow as tf

    v1 = tf.compat.v1
    with tf.Graph().as_default() as graph:
        images = v1.placeholder(tf.float32, [1, 2, 2, 1])
        output = tf.nn.conv2d(images, tf.ones([1, 1, 1, 1]), 1, "SAME")
        metadata = v1.RunMetadata()
        with v1.Session(graph=graph) as session:
            session.run(
                output,
                {images: np.ones([1, 2, 2, 1], np.float32)},
                options=v1.RunOptions(output_partition_graphs=True),
                run_metadata=metadata,
            )
    ops = {node.op for part in metadata.partition_graphs for node in part.node}
    return "onednn" if any(op.startswith("_Mkl") for op in ops) else "eigen"


def kernels_of_environment() -> str | None:
    """Return the kernels ``TF_ENABLE_ONEDNN_OPTS`` asks for: "onednn", "eigen" or None.

    TensorFlow reads the variable as a bool ("1"/"true": oneDNN, "0"/"false": Eigen, any case);
    unset or anything else leaves its CPU's default, and this returns None.
    """
    value = (os.environ.get(ONEDNN_ENV) or "").strip().lower()
    return {"1": "onednn", "true": "onednn", "0": "eigen", "false": "eigen"}.get(value)


def check_cpu_kernels(declared: object, entry: str = "cpu_kernels") -> str | None:
    """Return `declared` if it is None, "eigen" or "onednn".

    Raises:
      ConfigError: anything else (names `entry`).
    """
    if declared is not None and declared not in CPU_KERNELS:
        raise ConfigError(entry, f"None or one of {list(CPU_KERNELS)}", declared)
    return declared


def use_cpu_kernels(declared: str | None, entry: str = "cpu_kernels") -> str:
    """Run the `declared` CPU kernels (None: keep the process's); return the kernels in use.

    While TensorFlow is not loaded yet, a declaration sets ``TF_ENABLE_ONEDNN_OPTS`` for it;
    once it is (it chose its kernels when it loaded), only the kernels it runs pass.

    Raises:
      ConfigError: `declared` is not None, "eigen" or "onednn", or the process already runs the
        other kernels (the message says how to start it with the declared ones).
    """
    check_cpu_kernels(declared, entry)
    before = os.environ.get(ONEDNN_ENV)
    value = "1" if declared == "onednn" else "0"
    if declared is not None and before is None:
        os.environ[ONEDNN_ENV] = value
    actual = cpu_kernels()
    if declared is not None and actual != declared:
        if before is None:
            del os.environ[ONEDNN_ENV]  # it did not apply: the process's setting stays as it was
        raise ConfigError(
            entry,
            f"the CPU kernels this process runs ({actual}: TensorFlow chose them when it "
            f"loaded, before this check, with {ONEDNN_ENV}="
            f"{before if before is not None else '(unset)'}); start the process with "
            f"{ONEDNN_ENV}={value} for {declared}, or import TensorFlow only inside functions, "
            f"or declare {entry}={actual!r} (other numerics, recorded)",
            declared,
        )
    return actual
