"""reproml: raw rows -> TFRecords -> Estimators, tracked and re-runnable with Sacred.

The public names of the Reproducible-ML docs are importable from here::

    from reproml import FeatureHandler, write_records, serialize_npz
    from reproml import dataset_from_records, shuffle_repeat_prefetch, input_fn

So are the notebook readers of a run store, ``load_runs`` and ``load_metrics``
(`reproml.runs.frames`, pandas DataFrames). They are loaded on first use (PEP 562), so
``import reproml`` alone (as the CLI does for the commands that only read run stores) imports
neither TensorFlow nor pandas.
"""

from __future__ import annotations

import importlib
import os
from typing import Any

__version__ = "0.1.0"

# TensorFlow's C++ start-up lines (oneDNN, CUDA/cuDNN/cuFFT/cuBLAS registration, CPU features,
# TensorRT) are silenced for any program that imports reproml (or `handlers`) before TensorFlow:
# the level is read when TensorFlow loads. Level 3, as level 2 leaves the three cuDNN/cuFFT/cuBLAS
# "Unable to register" lines of every CPU machine. A user's own setting wins. docs/output.md.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

_PUBLIC = {
    "FeatureHandler": "reproml.records.handler",
    "FeatureSpec": "reproml.records.spec",
    "bytes_feature": "reproml.records.features",
    "int64_feature": "reproml.records.features",
    "float_feature": "reproml.records.features",
    "to_feature": "reproml.records.features",
    "write_records": "reproml.records.writer",
    "serialize_npz": "reproml.records.sources",
    "load_manifest": "reproml.records.manifest",
    "dataset_from_records": "reproml.records.reader",
    "shuffle_repeat_prefetch": "reproml.records.reader",
    "input_fn": "reproml.records.reader",
    # Runs as pandas DataFrames, for a notebook (pandas is imported on first use).
    "load_runs": "reproml.runs.frames",
    "load_metrics": "reproml.runs.frames",
}
__all__ = sorted(_PUBLIC)


def __getattr__(name: str) -> Any:
    """Imports a public name's module on first use."""
    if name not in _PUBLIC:
        raise AttributeError(f"module 'reproml' has no attribute {name!r}")
    value = getattr(importlib.import_module(_PUBLIC[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(list(globals()) + __all__)
