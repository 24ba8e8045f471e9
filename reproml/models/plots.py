"""PNG renderers for Sacred artifacts: sample grids, confusion matrices, sample predictions.

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
