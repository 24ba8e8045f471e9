"""The drift report's PNGs (each function writes one PNG and returns its path).

* `save_projection`: a 2-D PCA projection (scikit-learn) of baseline and production
  embeddings, production coloured by window, flagged windows drawn as crosses;
* `save_drift_curve`: per window, the distance of mean embeddings (with the distance a clean
  window of that size reaches by chance), the MMD p-value against the Bonferroni threshold, and
  the distance per predicted class (a drift confined to one class shows as one hot row);
* `save_farthest_images`: the production images farthest from the baseline (mean distance to
  their nearest baseline embeddings), titled with their window and predicted class.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402  (after choosing the backend)
import numpy as np  # noqa: E402
from sklearn.decomposition import PCA  # noqa: E402
from sklearn.neighbors import NearestNeighbors  # noqa: E402

from reproml.drift.embeddings import Embeddings  # noqa: E402
from reproml.drift.monitor import DriftReport  # noqa: E402
from reproml.drift.png import save_png  # noqa: E402


def save_projection(
    baseline: Embeddings,
    production: Embeddings,
    windows: np.ndarray,
    flagged: Sequence[int],
    path: str | os.PathLike,
    *,
    max_points: int = 2000,
    seed: int = 0,
) -> Path:
    """Write the PCA projection of baseline (grey) and production (by window) embeddings.

    PCA is fitted on both samples together (at most `max_points` of each, seeded), so the two
    axes are the directions in which the embeddings vary most, drift included.
    """
    rng = np.random.default_rng(seed)

    def subset(n: int) -> np.ndarray:
        return np.sort(rng.choice(n, min(n, max_points), replace=False))

    base_rows, prod_rows = subset(len(baseline)), subset(len(production))
    base, prod = baseline.embedding[base_rows], production.embedding[prod_rows]
    prod_windows = np.asarray(windows)[prod_rows]
    pca = PCA(n_components=2, random_state=seed).fit(np.concatenate([base, prod]))
    base_2d, prod_2d = pca.transform(base), pca.transform(prod)
    fig, ax = plt.subplots(figsize=(7.5, 6))
    ax.scatter(*base_2d.T, s=6, c="0.75", label="baseline", linewidths=0)
    flagged_mask = np.isin(prod_windows, list(flagged))
    norm = plt.Normalize(prod_windows.min(), max(prod_windows.max(), prod_windows.min() + 1))
    kwargs = {"c": None, "cmap": "viridis", "norm": norm}
    points = None
    for mask, marker, label in (
        (~flagged_mask, "o", "production, clean window"),
        (flagged_mask, "x", "production, flagged window"),
    ):
        if mask.any():
            kwargs["c"] = prod_windows[mask]
            points = ax.scatter(
                *prod_2d[mask].T,
                s=10 if marker == "o" else 14,
                marker=marker,
                label=label,
                linewidths=0 if marker == "o" else 0.8,
                alpha=0.8,
                **kwargs,
            )
    if points is not None:
        fig.colorbar(points, ax=ax, label="window")
    ratio = pca.explained_variance_ratio_
    ax.set_xlabel(f"PC 1 ({ratio[0]:.0%} of the variance)")
    ax.set_ylabel(f"PC 2 ({ratio[1]:.0%})")
    ax.set_title("embeddings: baseline vs production (PCA)")
    ax.legend(loc="best", fontsize=8, markerscale=2)
    fig.tight_layout()
    return save_png(fig, path)


def save_drift_curve(report: DriftReport, path: str | os.PathLike) -> Path:
    """Write the drift curve: distance, p-value and per-class distance per window."""
    windows = [w.window for w in report.windows]
    flagged = [w.window for w in report.windows if w.flagged]
    names = list(report.windows[0].class_distances) if report.windows else []
    fig, (ax_d, ax_p, ax_c) = plt.subplots(
        3, 1, figsize=(8, 8.5), sharex=True, gridspec_kw={"height_ratios": [2, 2, 2.4]}
    )
    for ax in (ax_d, ax_p):
        for w in flagged:
            ax.axvspan(w - 0.5, w + 0.5, color="tab:red", alpha=0.15, linewidth=0)
    ax_d.plot(windows, [w.distance for w in report.windows], "o-", color="tab:blue")
    ax_d.axhline(
        report.reference_distance,
        color="0.4",
        linestyle="--",
        label="95% of clean windows of this size",
    )
    ax_d.set_ylabel("distance of mean\nembeddings")
    ax_d.set_title(f"drift per window ({report.windowing}); flagged windows shaded")
    ax_d.legend(fontsize=8, loc="upper left")
    p_values = [max(w.p_value, 1e-12) for w in report.windows]
    ax_p.semilogy(windows, p_values, "o-", color="tab:purple")
    ax_p.axhline(
        report.alpha_per_window,
        color="tab:red",
        linestyle="--",
        label=f"alpha / windows = {report.alpha_per_window:.2g} (family-wise {report.alpha:g})",
    )
    ax_p.set_ylabel("MMD permutation\np-value")
    ax_p.legend(fontsize=8, loc="lower left")
    matrix = np.array(
        [
            [
                np.nan if w.class_distances[n] is None else w.class_distances[n]
                for w in report.windows
            ]
            for n in names
        ],
        dtype=float,
    ).reshape(len(names), len(windows))
    image = ax_c.imshow(
        np.ma.masked_invalid(matrix),
        aspect="auto",
        cmap="magma",
        extent=(
            min(windows, default=0) - 0.5,
            max(windows, default=0) + 0.5,
            len(names) - 0.5,
            -0.5,
        ),
    )
    ax_c.set_yticks(range(len(names)), names)
    ax_c.set_ylabel("predicted class")
    ax_c.set_xlabel("window")
    fig.colorbar(
        image,
        ax=ax_c,
        orientation="horizontal",
        pad=0.25,
        fraction=0.06,
        label="distance of mean embeddings per predicted class (blank: < 2 images)",
    )
    fig.tight_layout()
    return save_png(fig, path)


def farthest_rows(
    baseline: Embeddings, production: Embeddings, count: int, k: int = 5
) -> np.ndarray:
    """Return the rows of the `count` production images farthest from the baseline.

    Farthest: the largest mean Euclidean distance to their `k` nearest baseline embeddings
    (scikit-learn `NearestNeighbors`), so an image unlike every baseline image ranks first.
    """
    k = min(k, len(baseline))
    distances, _ = (
        NearestNeighbors(n_neighbors=k).fit(baseline.embedding).kneighbors(production.embedding)
    )
    score = distances.mean(axis=1)
    return np.argsort(-score, kind="stable")[: min(count, len(production))]


def save_farthest_images(
    baseline: Embeddings,
    production: Embeddings,
    windows: np.ndarray,
    class_names: Sequence[str],
    path: str | os.PathLike,
    *,
    count: int = 32,
    ncols: int = 8,
) -> Path:
    """Write a grid of the `count` production images farthest from the baseline."""
    rows = farthest_rows(baseline, production, count)
    ncols = max(1, min(ncols, len(rows)))
    nrows = -(-len(rows) // ncols)
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(1.25 * ncols, 1.45 * nrows + 0.4), squeeze=False
    )
    for ax in axes.flat:
        ax.axis("off")
    for ax, row in zip(axes.flat, rows, strict=False):
        image = production.data.images[row]
        ax.imshow(image[..., 0] if image.shape[-1] == 1 else image, cmap="gray", vmin=0, vmax=255)
        predicted = class_names[int(production.class_ids[row])]
        ax.set_title(f"w{int(windows[row])} →{predicted}", fontsize=8)
    fig.suptitle("production images farthest from the baseline (window →predicted)", fontsize=9)
    fig.tight_layout()
    return save_png(fig, path)
