"""The seed's drift metric: Euclidean distance between production and baseline mean embeddings.

Overall (`mean_distance`), per predicted class (`class_distances`: a drift confined to one class
shows there even when the overall mean hardly moves), and what the distance of a clean window
of the same size looks like (`reference_distance`, the dashed line of the drift curve).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from reproml.errors import ConfigError


def mean_distance(baseline: np.ndarray, production: np.ndarray) -> float:
    """Return ``||mean(production) - mean(baseline)||_2`` of two [N, D] embedding arrays.

    Raises:
      ConfigError: either side has no rows, or the widths differ.
    """
    baseline, production = np.asarray(baseline, np.float64), np.asarray(production, np.float64)
    if baseline.ndim != 2 or production.ndim != 2 or baseline.shape[1] != production.shape[1]:
        raise ConfigError(
            "production", f"[N, {baseline.shape[-1]}] embeddings", list(production.shape)
        )
    if len(baseline) == 0 or len(production) == 0:
        raise ConfigError("production", "at least one embedding on each side", 0)
    return float(np.linalg.norm(production.mean(axis=0) - baseline.mean(axis=0)))


def class_distances(
    baseline: np.ndarray,
    baseline_classes: np.ndarray,
    production: np.ndarray,
    production_classes: np.ndarray,
    class_names: Sequence[str],
    min_count: int = 2,
) -> dict[str, float | None]:
    """Return the mean-embedding distance per predicted class, keyed by class name.

    Both sides are grouped by the class the model *predicts* (production labels are not known
    when the report runs). A class with fewer than `min_count` images on either side gets None
    (a mean of one image says little); the report shows it as missing, not as 0.
    """
    distances: dict[str, float | None] = {}
    for index, name in enumerate(class_names):
        ours, theirs = production[production_classes == index], baseline[baseline_classes == index]
        if len(ours) < min_count or len(theirs) < min_count:
            distances[str(name)] = None
        else:
            distances[str(name)] = mean_distance(theirs, ours)
    return distances


def reference_distance(
    baseline: np.ndarray,
    window_size: int,
    *,
    quantile: float = 0.95,
    draws: int = 200,
    seed: int = 0,
) -> float:
    """Return the `quantile` of the distance between the baseline mean and clean windows.

    A clean window is `window_size` baseline embeddings drawn without replacement; the mean
    embedding of a small window moves by chance, and this is how far. (The flags come from
    the MMD test, not from this line; it only puts the distances in scale.)
    """
    baseline = np.asarray(baseline, np.float64)
    size = min(int(window_size), len(baseline))
    center = baseline.mean(axis=0)
    rng = np.random.default_rng(seed)
    values = [
        np.linalg.norm(baseline[rng.choice(len(baseline), size, replace=False)].mean(0) - center)
        for _ in range(draws)
    ]
    return float(np.quantile(values, quantile))
