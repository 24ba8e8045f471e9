"""Which CPU kernels a process's TensorFlow runs: oneDNN's or Eigen's, declared and checked.

TensorFlow 2.15 on x86 Linux runs convolutions, matmuls and pooling either with its own Eigen
kernels or with oneDNN's. ``TF_ENABLE_ONEDNN_OPTS`` chooses (1: oneDNN, 0: Eigen; unset: oneDNN
only on CPUs with AVX-512 VNNI/BF16/AMX), and TensorFlow reads it once, the first time it asks
(`cpu_kernels`): after that the process keeps its choice. The two give different floating-point
sums, so the same seed trains to different weights with each; each is deterministic on its own
(two runs with the same kernels are bit-equal, `tests/models/test_cpu_kernels.py`). On the 2-core
AVX2 machine of `docs/performance.md` (benchmark 8), oneDNN trains the default classifier with
about half the CPU time per step.

The classifier's ``params["cpu_kernels"]`` declares the kernels ("onednn" or "eigen"; None:
whichever the process runs). `use_cpu_kernels` applies a declaration while TensorFlow has not
chosen yet and refuses one it cannot honour, so a run never records kernels it did not run.
"""

from __future__ import annotations

import os

from reproml.errors import ConfigError

ONEDNN_ENV = "TF_ENABLE_ONEDNN_OPTS"
CPU_KERNELS = ("eigen", "onednn")


def cpu_kernels() -> str:
    """Return "onednn" or "eigen": the CPU kernels this process's TensorFlow runs (fixes them)."""
    # Deferred: TensorFlow is heavy, and a caller may set ONEDNN_ENV before it loads.
    from tensorflow.python.util import _pywrap_util_port

    return "onednn" if _pywrap_util_port.IsMklEnabled() else "eigen"


def use_cpu_kernels(declared: str | None, entry: str = "cpu_kernels") -> str:
    """Run the `declared` CPU kernels (None: keep the process's); return the kernels in use.

    While TensorFlow has not chosen its kernels yet, a declaration sets ``TF_ENABLE_ONEDNN_OPTS``
    for it; once it has (a kernel ran, or `cpu_kernels` was asked), only the same kernels pass.

    Raises:
      ConfigError: `declared` is not None, "eigen" or "onednn", or the process already runs the
        other kernels (the message says how to start it with the declared ones).
    """
    if declared is not None and declared not in CPU_KERNELS:
        raise ConfigError(entry, f"None or one of {list(CPU_KERNELS)}", declared)
    before = os.environ.get(ONEDNN_ENV)
    value = "1" if declared == "onednn" else "0"
    if declared is not None and before is None:
        os.environ[ONEDNN_ENV] = value
    actual = cpu_kernels()
    if declared is not None and actual != declared:
        raise ConfigError(
            entry,
            f"the CPU kernels this process runs ({actual}: TensorFlow chose them before this "
            f"check, with {ONEDNN_ENV}={before if before is not None else '(unset)'}); start "
            f"the process with {ONEDNN_ENV}={value} for {declared}",
            declared,
        )
    return actual
