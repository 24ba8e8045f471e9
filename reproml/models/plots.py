"""PNG renderers for Sacred artifacts: sample grids, confusion matrices, ROC/PR, predictions.

Each function writes one PNG and returns its path; the experiments log it with
``run.add_artifact(path)``. matplotlib uses the non-interactive Agg backend (no display needed).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402  (after choosing the backend)
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402


def _as_uint8_images(images: np.ndarray, name: str) -> np.ndarray:
    """Return [N, H, W, C] uint8; float images are taken to be in [-1, 1] (generator output)."""
    array = np.asarray(images)
    if array.ndim == 3:
        array = array[..., np.newaxis]
    if array.ndim != 4 or array.shape[-1] not in (1, 3) or len(array) == 0:
        raise ValueError(
            f"{name}: expected [N, H, W] or [N, H, W, 1|3] with N >= 1, got {array.shape}"
        )
    if array.dtype == np.uint8:
        return array
    if array.dtype.kind != "f":
        raise ValueError(f"{name}: expected uint8 or float images in [-1, 1], got {array.dtype}")
    return np.round((np.clip(array, -1.0, 1.0) + 1.0) * 127.5).astype(np.uint8)


def image_grid(images: np.ndarray, ncols: int = 8, padding: int = 1) -> np.ndarray:
    """Tile images [N, H, W, C] into one uint8 image with `ncols` columns and `padding` pixels.

    uint8 images are used as they are; float images are taken to be in [-1, 1].
    """
    array = _as_uint8_images(images, "images")
    n, height, width, channels = array.shape
    ncols = max(1, min(ncols, n))
    nrows = -(-n // ncols)
    grid = np.zeros(
        (nrows * (height + padding) + padding, ncols * (width + padding) + padding, channels),
        np.uint8,
    )
    for i, image in enumerate(array):
        row, col = divmod(i, ncols)
        top, left = padding + row * (height + padding), padding + col * (width + padding)
        grid[top : top + height, left : left + width] = image
    return grid


def save_image_grid(
    images: np.ndarray, path: str | os.PathLike, ncols: int = 8, scale: int = 2
) -> Path:
    """Write `image_grid(images, ncols)` as a PNG, enlarged `scale` times; return the path."""
    grid = image_grid(images, ncols)
    picture = Image.fromarray(grid[..., 0] if grid.shape[-1] == 1 else grid)
    if scale > 1:
        picture = picture.resize((grid.shape[1] * scale, grid.shape[0] * scale), Image.NEAREST)
    path = Path(path)
    picture.save(path, format="PNG")
    return path


def save_confusion_matrix(
    matrix: np.ndarray, path: str | os.PathLike, class_names: Sequence[str] | None = None
) -> Path:
    """Write a confusion matrix [C, C] (rows true, columns predicted) as an annotated PNG."""
    matrix = np.asarray(matrix)
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1]:
        raise ValueError(f"confusion matrix: expected a square [C, C] array, got {matrix.shape}")
    n = matrix.shape[0]
    names = [str(i) for i in range(n)] if class_names is None else [str(c) for c in class_names]
    if len(names) != n:
        raise ValueError(f"class_names: expected {n} names, got {len(names)}")
    fig, ax = plt.subplots(figsize=(1 + 0.5 * n, 1 + 0.5 * n), dpi=100)
    try:
        ax.imshow(matrix, cmap="Blues")
        ax.set_xticks(range(n), names, rotation=90)
        ax.set_yticks(range(n), names)
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
        threshold = matrix.max() / 2 if matrix.size else 0
        for (i, j), value in np.ndenumerate(matrix):
            color = "white" if value > threshold else "black"
            ax.text(j, i, f"{value:g}", ha="center", va="center", color=color, fontsize=7)
        fig.tight_layout()
        path = Path(path)
        fig.savefig(path, format="png")
    finally:
        plt.close(fig)
    return path


def save_sample_predictions(
    images: np.ndarray,
    labels: Sequence[int],
    predictions: Sequence[int],
    path: str | os.PathLike,
    class_names: Sequence[str] | None = None,
    ncols: int = 8,
) -> Path:
    """Write a grid of images titled ``true -> predicted`` (wrong ones in red) as a PNG."""
    array = _as_uint8_images(images, "images")
    if not len(array) == len(labels) == len(predictions):
        raise ValueError(
            f"images, labels, predictions: expected the same length, got "
            f"{len(array)}, {len(labels)}, {len(predictions)}"
        )
    name = (lambda i: str(i)) if class_names is None else (lambda i: str(class_names[int(i)]))
    ncols = max(1, min(ncols, len(array)))
    nrows = -(-len(array) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(1.2 * ncols, 1.4 * nrows), squeeze=False)
    try:
        for ax in axes.flat:
            ax.axis("off")
        for ax, image, label, predicted in zip(axes.flat, array, labels, predictions, strict=False):
            ax.imshow(
                image[..., 0] if image.shape[-1] == 1 else image, cmap="gray", vmin=0, vmax=255
            )
            color = "black" if int(label) == int(predicted) else "red"
            ax.set_title(f"{name(label)}→{name(predicted)}", color=color, fontsize=8)
        fig.tight_layout()
        path = Path(path)
        fig.savefig(path, format="png")
    finally:
        plt.close(fig)
    return path


def save_roc_pr_curves(
    labels: Sequence[int],
    probabilities: np.ndarray,
    path: str | os.PathLike,
    class_names: Sequence[str] | None = None,
) -> tuple[Path, dict[str, dict[str, float]]]:
    """Write one PNG with ROC (left) and precision-recall (right) curves, one curve per class.

    Each class is scored one-vs-rest from its column of `probabilities` (scikit-learn's
    `roc_curve` / `precision_recall_curve`); the legend gives its ROC AUC / average precision.

    Args:
      labels: the true class of each example, [N] ints in [0, C).
      probabilities: the predicted probabilities, [N, C].
      path: the PNG to write.
      class_names: the C class names (default: the class indices).

    Returns:
      (the path, ``{class name: {"roc_auc": ..., "average_precision": ...}}``); a class absent
      from `labels` has no curve and NaN scores.

    Raises:
      ValueError: `probabilities` is not [N, C] with N = len(labels), or a label is out of range.
    """
    from sklearn.metrics import auc, average_precision_score, precision_recall_curve, roc_curve

    probs = np.asarray(probabilities, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64).reshape(-1)
    if probs.ndim != 2 or len(probs) != len(labels) or len(labels) == 0:
        raise ValueError(
            f"probabilities: expected [N, C] with N = {len(labels)} labels, got {probs.shape}"
        )
    n = probs.shape[1]
    if labels.min() < 0 or labels.max() >= n:
        raise ValueError(f"labels: expected ints in [0, {n}), got {labels.min()}..{labels.max()}")
    names = [str(i) for i in range(n)] if class_names is None else [str(c) for c in class_names]
    if len(names) != n:
        raise ValueError(f"class_names: expected {n} names, got {len(names)}")
    scores: dict[str, dict[str, float]] = {}
    fig, (roc_ax, pr_ax) = plt.subplots(1, 2, figsize=(11, 5), dpi=100)
    try:
        colors = plt.get_cmap("tab10" if n <= 10 else "tab20")
        for i, name in enumerate(names):
            truth = labels == i
            if not truth.any() or truth.all():
                scores[name] = {"roc_auc": float("nan"), "average_precision": float("nan")}
                continue
            fpr, tpr, _ = roc_curve(truth, probs[:, i])
            precision, recall, _ = precision_recall_curve(truth, probs[:, i])
            roc_auc = float(auc(fpr, tpr))
            ap = float(average_precision_score(truth, probs[:, i]))
            scores[name] = {"roc_auc": roc_auc, "average_precision": ap}
            color = colors(i % colors.N)
            roc_ax.plot(fpr, tpr, color=color, lw=1.2, label=f"{name} (AUC {roc_auc:.3f})")
            pr_ax.plot(recall, precision, color=color, lw=1.2, label=f"{name} (AP {ap:.3f})")
        roc_ax.plot([0, 1], [0, 1], color="grey", lw=0.8, ls="--")
        roc_ax.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC")
        pr_ax.set(xlabel="recall", ylabel="precision", title="precision-recall")
        for ax in (roc_ax, pr_ax):
            ax.set_xlim(0, 1)
            ax.set_ylim(0, 1.02)
            ax.legend(fontsize=7, loc="lower right" if ax is roc_ax else "lower left")
        fig.tight_layout()
        path = Path(path)
        fig.savefig(path, format="png")
    finally:
        plt.close(fig)
    return path, scores


def multilabel_pr_figure(
    labels: np.ndarray,
    probabilities: np.ndarray,
    class_names: Sequence[str],
    threshold: float,
) -> tuple[plt.Figure, dict[str, dict[str, float]]]:
    """Draw a multi-label classifier's per-label PR curves and precision/recall bars.

    Left, one precision-recall curve per label (scikit-learn's `precision_recall_curve` on its
    column), with the point at `threshold` marked and the average precision in the legend;
    right, each label's precision and recall at `threshold`, the bars named by class.

    Args:
      labels: the true label sets, multi-hot [N, L] (0/1).
      probabilities: the predicted (sigmoid) probabilities, [N, L].
      class_names: the L label names, in column order.
      threshold: a label is predicted at a probability >= this.

    Returns:
      (the figure, ``{name: {"precision", "recall", "average_precision", "support"}}``); a label
      never present has precision/recall 0 (as the eval metrics) and a NaN average precision.

    Raises:
      ValueError: `labels` and `probabilities` are not both [N, L] with N >= 1 and L names,
        or `labels` holds values other than 0 and 1.
    """
    from sklearn.metrics import (
        average_precision_score,
        precision_recall_curve,
        precision_score,
        recall_score,
    )

    truth = np.asarray(labels, dtype=np.float64)
    probs = np.asarray(probabilities, dtype=np.float64)
    names = [str(c) for c in class_names]
    if truth.ndim != 2 or truth.shape != probs.shape or len(truth) == 0:
        raise ValueError(
            f"labels, probabilities: expected both [N, L] with N >= 1, got {truth.shape} "
            f"and {probs.shape}"
        )
    if truth.shape[1] != len(names):
        raise ValueError(f"class_names: expected {truth.shape[1]} names, got {len(names)}")
    if not np.isin(truth, (0.0, 1.0)).all():
        raise ValueError("labels: expected a multi-hot array of 0 and 1")
    predicted = probs >= threshold
    scores: dict[str, dict[str, float]] = {}
    fig, (pr_ax, bar_ax) = plt.subplots(1, 2, figsize=(11, 5), dpi=100)
    try:
        colors = plt.get_cmap("tab10" if len(names) <= 10 else "tab20")
        for i, name in enumerate(names):
            present = truth[:, i] > 0.5
            precision = float(precision_score(present, predicted[:, i], zero_division=0))
            recall = float(recall_score(present, predicted[:, i], zero_division=0))
            ap = float("nan")
            color = colors(i % colors.N)
            if present.any():
                ap = float(average_precision_score(present, probs[:, i]))
                curve_p, curve_r, _ = precision_recall_curve(present, probs[:, i])
                pr_ax.plot(curve_r, curve_p, color=color, lw=1.2, label=f"{name} (AP {ap:.3f})")
                pr_ax.plot([recall], [precision], "o", color=color, ms=5)
            scores[name] = {
                "precision": precision,
                "recall": recall,
                "average_precision": ap,
                "support": int(present.sum()),
            }
        x = np.arange(len(names))
        bar_ax.bar(x - 0.2, [scores[n]["precision"] for n in names], 0.4, label="precision")
        bar_ax.bar(x + 0.2, [scores[n]["recall"] for n in names], 0.4, label="recall")
        bar_ax.set_xticks(x, names, rotation=45 if len(names) > 6 else 0, ha="right")
        bar_ax.set(ylim=(0, 1.02), title=f"per label at threshold {threshold:g}")
        bar_ax.legend(fontsize=8)
        pr_ax.set(
            xlabel="recall",
            ylabel="precision",
            xlim=(0, 1),
            ylim=(0, 1.02),
            title=f"precision-recall per label (dots: threshold {threshold:g})",
        )
        pr_ax.legend(fontsize=7, loc="lower left")
        fig.tight_layout()
    except BaseException:
        plt.close(fig)
        raise
    return fig, scores


def save_multilabel_pr(
    labels: np.ndarray,
    probabilities: np.ndarray,
    path: str | os.PathLike,
    class_names: Sequence[str],
    threshold: float,
) -> tuple[Path, dict[str, dict[str, float]]]:
    """Write `multilabel_pr_figure` as one PNG; returns (the path, its per-label scores)."""
    fig, scores = multilabel_pr_figure(labels, probabilities, class_names, threshold)
    try:
        path = Path(path)
        fig.savefig(path, format="png")
    finally:
        plt.close(fig)
    return path, scores
