"""Fréchet distance between two sets of images, in the embedding space of a trained classifier.

Each set of embeddings is summarised by its mean `mu` and covariance `C`; the distance between
the two Gaussians is ``|mu_a - mu_b|^2 + trace(C_a + C_b - 2 (C_a C_b)^(1/2))`` (as in FID, with
our own classifier's penultimate layer instead of Inception, so it works offline on MNIST-like
data). Identical sets give 0; shifting every embedding by `d` gives ``|d|^2``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from itertools import islice

import numpy as np
import scipy.linalg
import tensorflow as tf

from reproml.errors import ConfigError


def frechet_distance(
    embeddings_a: np.ndarray, embeddings_b: np.ndarray, eps: float = 1e-6
) -> float:
    """Return the Fréchet distance between two sets of embeddings [N, D] and [M, D].

    When `C_a C_b` is singular (fewer samples than dimensions), `eps` is added to both
    diagonals before the matrix square root, as the reference FID code does.

    Raises:
      ValueError: the arrays are not 2-D with the same D and at least 2 rows each.
    """
    a, b = np.asarray(embeddings_a, np.float64), np.asarray(embeddings_b, np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1] or len(a) < 2 or len(b) < 2:
        raise ValueError(
            f"embeddings: expected two [N, D] arrays with the same D and N >= 2, "
            f"got shapes {a.shape} and {b.shape}"
        )
    mu_a, mu_b = a.mean(axis=0), b.mean(axis=0)
    cov_a = np.atleast_2d(np.cov(a, rowvar=False))
    cov_b = np.atleast_2d(np.cov(b, rowvar=False))
    covmean, _ = scipy.linalg.sqrtm(cov_a @ cov_b, disp=False)
    if not np.all(np.isfinite(covmean)):
        offset = np.eye(len(cov_a)) * eps
        covmean = scipy.linalg.sqrtm((cov_a + offset) @ (cov_b + offset))
    covmean = np.real(covmean)
    diff = mu_a - mu_b
    distance = diff @ diff + np.trace(cov_a) + np.trace(cov_b) - 2.0 * np.trace(covmean)
    return float(max(distance, 0.0))


def to_uint8_images(images: np.ndarray) -> np.ndarray:
    """Convert generator output in [-1, 1] to uint8 images in [0, 255] (what classifiers take)."""
    scaled = (np.clip(np.asarray(images, np.float32), -1.0, 1.0) + 1.0) * 127.5
    return np.round(scaled).astype(np.uint8)


def classifier_embeddings(
    classifier: tf.estimator.Estimator,
    input_fn: Callable[[], tf.data.Dataset],
    num_examples: int,
) -> np.ndarray:
    """Return the first `num_examples` ``embedding`` predictions of `classifier` [N, D].

    Args:
      classifier: an Estimator whose predictions include "embedding" (see `classifier.py`).
      input_fn: yields ``{"image": uint8}`` features, or (features, labels) pairs; may repeat.
      num_examples: how many embeddings to take.

    Raises:
      ConfigError: the input ran out before `num_examples` embeddings.
    """
    predictions: Iterable[np.ndarray] = classifier.predict(input_fn, predict_keys=["embedding"])
    rows = [p["embedding"] for p in islice(predictions, num_examples)]
    if len(rows) < num_examples:
        raise ConfigError("num_examples", f"at most {len(rows)} (the input's size)", num_examples)
    return np.stack(rows)


def images_input_fn(images: np.ndarray, batch_size: int = 64) -> Callable[[], tf.data.Dataset]:
    """Return an input_fn yielding ``{"image": images}`` in batches, once, in order."""

    def fn() -> tf.data.Dataset:
        return tf.data.Dataset.from_tensor_slices({"image": images}).batch(batch_size)

    return fn
