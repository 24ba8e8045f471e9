"""The scalar numbers of an evaluation: what is logged, compared and reported of its metrics.

`Estimator.evaluate` returns a dict of NumPy values: scalars (``accuracy``, ``loss``), arrays
(``confusion_matrix``) and the ``global_step``. The best checkpoint (`reproml.train`) and a
sweep trial's report (`reproml.sweep.trial`) both compare its scalars only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np


def scalar_metrics(metrics: Mapping[str, Any]) -> dict[str, float]:
    """Return the scalar numeric entries of an `Estimator.evaluate` result as floats.

    ``global_step`` is not a metric and is left out, as is every non-scalar value.
    """
    scalars = {}
    for name, value in metrics.items():
        array = np.asarray(value)
        if array.ndim == 0 and np.issubdtype(array.dtype, np.number) and name != "global_step":
            scalars[name] = float(array)
    return scalars
