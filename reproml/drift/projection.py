"""Baseline and production embeddings in 2-D (UMAP or PCA), coloured by what is known of them.

`save_label_projection` writes one PNG of four panels over the same coordinates, as the
monitoring workflow colours its embedding map: by dataset (baseline / production), by predicted
label, by actual label (grey where the data carries none: production labels often arrive
later) and by correctness (predicted == actual; grey where unknown).

`project` computes the coordinates: ``"umap"`` (umap-learn, a neighbour graph: clusters of
classes stay apart) or ``"pca"`` (scikit-learn, the two directions of most variance). Both
are seeded: the same embeddings and seed give identical coordinates (UMAP then runs on one
thread, as umap-learn does whenever ``random_state`` is set).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402  (after choosing the backend)
import numpy as np  # noqa: E402
import umap  # noqa: E402
from sklearn.decomposition import PCA  # noqa: E402

from reproml.drift.embeddings import Embeddings  # noqa: E402
from reproml.drift.png import save_png  # noqa: E402
from reproml.errors import ProjectionError  # noqa: E402

METHODS = ("umap", "pca")
MIN_POINTS = 4  # UMAP's neighbour graph needs a few points; fewer is refused
UNKNOWN = "0.8"  # the colour of a point whose actual label is not known
DATASET_COLOURS = {"baseline": "#7f7f7f", "production": "#d62728"}
CORRECTNESS_COLOURS = {"correct": "#2ca02c", "wrong": "#d62728", "label unknown": UNKNOWN}


def project(
    embedding: np.ndarray, method: str = "umap", *, seed: int = 0, n_epochs: int | None = None
) -> np.ndarray:
    """Return float [N, 2] coordinates of `embedding` (float [N, D]).

    Args:
      embedding: the points, one row each.
      method: ``"umap"`` or ``"pca"``.
      seed: the random state of either method (same seed, same coordinates).
      n_epochs: UMAP's optimisation epochs (None: umap-learn's default, 500 below 10,000
        points); fewer is faster and coarser.

    Raises:
      ProjectionError: an unknown method, or fewer than `MIN_POINTS` points.
    """
    if method not in METHODS:
        raise ProjectionError(f"projection method {method!r}: expected one of {METHODS}")
    embedding = np.asarray(embedding, np.float32)
    if embedding.ndim != 2 or len(embedding) < MIN_POINTS:
        raise ProjectionError(
            f"projection: got embeddings of shape {embedding.shape}; expected [N, D] with "
            f"N >= {MIN_POINTS}"
        )
    if method == "pca":
        return PCA(n_components=2, random_state=seed).fit_transform(embedding)
    reducer = umap.UMAP(
        n_components=2,
        n_neighbors=min(15, len(embedding) - 1),
        random_state=seed,
        n_epochs=n_epochs,
        init="spectral" if len(embedding) > MIN_POINTS + 2 else "random",
    )
    with warnings.catch_warnings():
        # umap-learn says a seed turns parallelism off: that is what reproducibility costs.
        warnings.filterwarnings(
            "ignore", message="n_jobs value .* overridden", category=UserWarning
        )
        return reducer.fit_transform(embedding)


def _names(ids: np.ndarray, class_names: Sequence[str]) -> list[str]:
    return [class_names[i] if 0 <= i < len(class_names) else str(i) for i in ids]


def _scatter_by(
    ax: plt.Axes, xy: np.ndarray, labels: list[str], colours: dict[str, str], title: str
) -> None:
    """Scatter `xy` with one colour (and legend entry) per distinct label."""
    for label, colour in colours.items():
        mask = np.array([value == label for value in labels])
        if mask.any():
            ax.scatter(*xy[mask].T, s=7, c=colour, label=f"{label} ({mask.sum()})", linewidths=0)
    ax.set_title(title, fontsize=10)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.legend(loc="best", fontsize=7, markerscale=2, ncol=2 if len(colours) > 5 else 1)


def _class_colours(class_names: Sequence[str], present: set[str]) -> dict[str, str]:
    palette = plt.get_cmap("tab10" if len(class_names) <= 10 else "tab20")
    named = {name: matplotlib.colors.to_hex(palette(i % palette.N)) for i, name in
             enumerate(class_names)}  # fmt: skip
    extra = sorted(present - set(named))  # ids beyond the class names: shown, never merged
    return {**named, **{name: "black" for name in extra}}


def save_label_projection(
    baseline: Embeddings,
    production: Embeddings,
    class_names: Sequence[str],
    path: str | os.PathLike,
    *,
    method: str = "umap",
    seed: int = 0,
    max_points: int = 2000,
    n_epochs: int | None = None,
) -> Path:
    """Write the 2-D projection of both samples as four panels: dataset, predicted, actual, correct.

    At most `max_points` of each sample are drawn (a seeded subset), projected together.

    Args:
      baseline: the embeddings of the data the model was trained for.
      production: the embeddings of the data it served.
      class_names: the name of each class id (a legend entry each).
      path: the PNG to write.
      method: ``"umap"`` or ``"pca"`` (see `project`).
      seed: seeds the subset and the projection.
      max_points: the most points of each sample drawn.
      n_epochs: UMAP's epochs (see `project`).

    Returns:
      `path`.
    """
    rng = np.random.default_rng(seed)

    def subset(sample: Embeddings) -> Embeddings:
        rows = np.sort(rng.choice(len(sample), min(len(sample), max_points), replace=False))
        return sample.take(rows)

    base, prod = subset(baseline), subset(production)
    xy = project(
        np.concatenate([base.embedding, prod.embedding]), method, seed=seed, n_epochs=n_epochs
    )
    dataset = ["baseline"] * len(base) + ["production"] * len(prod)
    predicted = _names(np.concatenate([base.class_ids, prod.class_ids]), class_names)
    actual: list[str] = []
    correct: list[str] = []
    for sample in (base, prod):
        labels = sample.data.labels
        if labels is None:
            actual += ["label unknown"] * len(sample)
            correct += ["label unknown"] * len(sample)
        else:
            actual += _names(np.asarray(labels), class_names)
            correct += ["correct" if p == a else "wrong" for p, a in
                        zip(sample.class_ids, labels, strict=True)]  # fmt: skip
    classes = _class_colours(class_names, set(predicted) | set(actual))
    known = sum(label != "label unknown" for label in actual)
    fig, axes = plt.subplots(2, 2, figsize=(11, 9.5))
    _scatter_by(axes[0, 0], xy, dataset, DATASET_COLOURS, "dataset")
    _scatter_by(axes[0, 1], xy, predicted, classes, "predicted label")
    _scatter_by(
        axes[1, 0],
        xy,
        actual,
        {**classes, "label unknown": UNKNOWN},
        f"actual label (known for {known} of {len(actual)})",
    )
    n_correct = correct.count("correct")
    accuracy = f"{n_correct / known:.0%} correct of {known} labelled" if known else "no labels"
    _scatter_by(axes[1, 1], xy, correct, CORRECTNESS_COLOURS, f"correctness ({accuracy})")
    fig.suptitle(f"embeddings, baseline and production ({method.upper()}, seed {seed})")
    fig.tight_layout()
    return save_png(fig, path)
