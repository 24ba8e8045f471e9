"""The drift report: the production stream cut into windows, each compared with the baseline.

    windows = assign_windows(production.data, window_size=None, window_seconds=3600)
    report = drift_report(baseline, production, windows, class_names, alpha=0.05)
    report.flagged_windows      # the windows whose MMD p-value < alpha / number of windows
    report.to_json()            # what the drift run stores as drift_windows.json

Per window: its size and time span, the Euclidean distance of mean embeddings (the seed's
metric), the MMD^2 and its permutation p-value (`reproml.drift.statistics`), the flag, the
distance per predicted class, and the accuracy when the production data has labels.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np

from reproml.checks import optional_int_at_least
from reproml.drift.distance import class_distances, mean_distance, reference_distance
from reproml.drift.embeddings import Embeddings, ImageBatch
from reproml.drift.statistics import (
    check_permutations,
    median_heuristic_gamma,
    mmd_permutation_test,
)
from reproml.errors import ConfigError


@dataclasses.dataclass(frozen=True)
class WindowResult:
    """One window of the production stream compared with the baseline."""

    window: int
    size: int
    start: float  # first timestamp (or record index when windows follow record order)
    end: float  # last timestamp (or record index)
    distance: float  # Euclidean distance of the mean embeddings
    mmd2: float
    p_value: float
    flagged: bool
    class_distances: dict[str, float | None]
    accuracy: float | None  # None when the production data has no labels


@dataclasses.dataclass(frozen=True)
class DriftReport:
    """Every window's result and how they were obtained (stored with the drift run)."""

    windows: list[WindowResult]
    alpha: float
    alpha_per_window: float
    num_permutations: int
    gamma: float
    baseline_size: int
    baseline_tested: int
    reference_distance: float
    windowing: str

    @property
    def flagged_windows(self) -> list[int]:
        """The windows flagged as drifted, in stream order."""
        return [w.window for w in self.windows if w.flagged]

    def to_json(self) -> dict[str, Any]:
        """Return the report as JSON-ready values (what ``drift_windows.json`` holds)."""
        return {
            "flagged_windows": self.flagged_windows,
            "test": "MMD (RBF kernel, median heuristic on the baseline), permutation p-value",
            "false_alarm_rate": (
                f"family-wise <= {self.alpha}: a window is flagged when p < alpha / windows "
                f"= {self.alpha_per_window:.3g} (Bonferroni)"
            ),
            **{k: v for k, v in dataclasses.asdict(self).items() if k != "windows"},
            "windows": [dataclasses.asdict(w) for w in self.windows],
        }


def assign_windows(
    data: ImageBatch, *, window_size: int | None, window_seconds: float | None
) -> tuple[np.ndarray, str]:
    """Return the window of every production image (0, 1, ...) and how they were cut.

    Args:
      data: the production images, in stream order.
      window_size: images per window in record order; None: by the timestamps.
      window_seconds: the length of a time window when `window_size` is None; window k holds
        ``t0 + k * window_seconds <= timestamp < t0 + (k + 1) * window_seconds``, t0 the first
        timestamp. Empty windows are dropped and the others renumbered in order.

    Raises:
      ConfigError: neither is usable (no timestamps and no window_size), or not positive.
    """
    if window_size is not None:
        optional_int_at_least("window_size", window_size)
        ids = np.arange(len(data)) // window_size
        return ids, f"{window_size} images per window in record order"
    if data.timestamps is None:
        raise ConfigError(
            "window_size",
            "an int >= 1: the production data has no 'timestamp' to cut time windows by",
            None,
        )
    if (
        isinstance(window_seconds, bool)
        or not isinstance(window_seconds, int | float)
        or not window_seconds > 0
    ):
        raise ConfigError("window_seconds", "a number > 0", window_seconds)
    times = np.asarray(data.timestamps, np.float64)
    raw = np.floor((times - times.min()) / window_seconds).astype(np.int64)
    _, ids = np.unique(raw, return_inverse=True)
    return ids.reshape(-1), f"timestamp windows of {window_seconds:g} s"


def drift_report(
    baseline: Embeddings,
    production: Embeddings,
    windows: np.ndarray,
    class_names: Sequence[str],
    *,
    windowing: str = "",
    alpha: float = 0.05,
    num_permutations: int = 500,
    max_baseline: int = 1000,
    min_window: int = 2,
    seed: int = 0,
) -> DriftReport:
    """Compare every window of `production` with `baseline`.

    Args:
      baseline: embeddings of the baseline images (held out from training).
      production: embeddings of the production stream.
      windows: the window of every production image (`assign_windows`).
      class_names: the classifier's class names (index order).
      windowing: how the windows were cut (recorded).
      alpha: the report's family-wise false-alarm rate (Bonferroni over the windows).
      num_permutations: permutations per window test.
      max_baseline: baseline embeddings in each MMD test (a seeded random subset; every
        baseline embedding enters the mean embedding).
      min_window: windows with fewer images are refused.
      seed: seeds the baseline subset and the permutations (window k uses seed + k).

    Raises:
      ConfigError: alpha not in (0, 1), too few permutations for alpha / windows, a window
        smaller than `min_window`, or fewer than 2 baseline images.
    """
    if isinstance(alpha, bool) or not isinstance(alpha, int | float) or not 0 < alpha < 1:
        raise ConfigError("alpha", "a false-alarm rate in (0, 1)", alpha)
    ids = np.asarray(windows)
    if ids.shape != (len(production),):
        raise ConfigError(
            "windows", f"one window per production image [{len(production)}]", ids.shape
        )
    present = np.unique(ids)
    check_permutations(num_permutations, alpha, len(present))
    sizes = {int(w): int((ids == w).sum()) for w in present}
    small = {w: n for w, n in sizes.items() if n < min_window}
    if small:
        raise ConfigError("window_size", f"windows of at least {min_window} images", small)
    gamma = median_heuristic_gamma(baseline.embedding, seed=seed)
    rng = np.random.default_rng(seed)
    tested = baseline.embedding
    if len(tested) > max_baseline:
        tested = tested[np.sort(rng.choice(len(tested), max_baseline, replace=False))]
    per_window_alpha = alpha / len(present)
    times = production.data.timestamps
    results = []
    for w in present:
        rows = np.flatnonzero(ids == w)
        part = production.take(rows)
        test = mmd_permutation_test(
            tested,
            part.embedding,
            gamma=gamma,
            num_permutations=num_permutations,
            seed=seed + int(w),
        )
        span = times[rows] if times is not None else rows
        accuracy = None
        if part.data.labels is not None:
            accuracy = float(np.mean(part.class_ids == part.data.labels))
        results.append(
            WindowResult(
                window=int(w),
                size=len(rows),
                start=float(np.min(span)),
                end=float(np.max(span)),
                distance=mean_distance(baseline.embedding, part.embedding),
                mmd2=test.mmd2,
                p_value=test.p_value,
                flagged=test.p_value < per_window_alpha,
                class_distances=class_distances(
                    baseline.embedding,
                    baseline.class_ids,
                    part.embedding,
                    part.class_ids,
                    class_names,
                ),
                accuracy=accuracy,
            )
        )
    return DriftReport(
        windows=results,
        alpha=float(alpha),
        alpha_per_window=per_window_alpha,
        num_permutations=int(num_permutations),
        gamma=gamma,
        baseline_size=len(baseline),
        baseline_tested=len(tested),
        reference_distance=reference_distance(
            baseline.embedding, int(np.median(list(sizes.values()))), seed=seed
        ),
        windowing=windowing,
    )
