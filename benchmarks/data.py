"""The benchmark data set: MNIST-sized (60,000 x 28x28 uint8, int labels) with real pixel statistics.

scikit-learn's bundled 8x8 digits are upscaled to 28x28 and tiled, each copy shifted by a pixel
or two so that GZIP sees real, not repeated, image content. Generated, never downloaded.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import zoom
from sklearn.datasets import load_digits


def mnist_like(n: int = 60_000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Returns `n` images (uint8 [n, 28, 28]) and labels (int64 [n])."""
    digits = load_digits()
    base = np.stack([zoom(im, 28 / 8, order=1) for im in digits.images]) * (255.0 / 16.0)
    base = np.clip(base, 0, 255).astype(np.uint8)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(base), n)
    shifts = rng.integers(-2, 3, (n, 2))
    images = np.empty((n, 28, 28), np.uint8)
    for i in range(n):
        images[i] = np.roll(base[idx[i]], tuple(shifts[i]), axis=(0, 1))
    return images, digits.target[idx].astype(np.int64)


def label_checksum(labels: np.ndarray) -> tuple[int, tuple[int, ...]]:
    """Returns (example count, per-class counts): equal for two sides that read the same examples."""
    labels = np.asarray(labels, dtype=np.int64)
    return int(labels.size), tuple(int(c) for c in np.bincount(labels, minlength=10))
