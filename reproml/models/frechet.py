"""Scores of generated images in a trained classifier's spaces: Fréchet distance, MNIST score.

Both come from TF-GAN's `tfgan.eval` (run eagerly on NumPy arrays):

- `frechet_distance`: each set of embeddings is summarised by its mean `mu` and covariance `C`;
  the distance between the two Gaussians is ``|mu_a - mu_b|^2 + tr(C_a + C_b - 2 (C_a C_b)^(1/2))``
  (`frechet_classifier_distance_from_activations`; FID with our evaluation classifier's
  penultimate layer instead of Inception). Its matrix square root is taken through an SVD, so
  singular covariances -- always the case here: ReLU embedding units that never fire, or fewer
  samples than dimensions -- are exact and warning-free. The estimate is biased upwards for small
  N (two disjoint sets of real MNIST images: about 108 at N=32, 12 at N=500, 6 at N=2000), so
  only distances with the same N and the same classifier can be compared.
- `classifier_score`: ``exp(E_x KL(p(y|x) || p(y)))`` (`classifier_score_from_logits`), the
  Inception score with an MNIST classifier ("MNIST score"): 1 for samples that all look like one
  class or like none, up to the number of classes for confident, evenly spread ones.

Diversity measures that make mode collapse visible: `class_entropy` (of the classifier's
predicted classes over the samples; ln 10 = 2.303 for 10 evenly used classes, 0 for a collapse)
and `mean_pairwise_distance` (mean L2 distance between samples, pixels in [0, 1]).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from itertools import islice

import numpy as np
import tensorflow as tf

from reproml.errors import ConfigError
from reproml.models.tfgan_compat import tfgan


def _two_sets(embeddings_a: np.ndarray, embeddings_b: np.ndarray) -> tuple[np.ndarray, ...]:
    a, b = np.asarray(embeddings_a, np.float64), np.asarray(embeddings_b, np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1] or len(a) < 2 or len(b) < 2:
        raise ValueError(
            f"embeddings: expected two [N, D] arrays with the same D and N >= 2, "
            f"got shapes {a.shape} and {b.shape}"
        )
    return a, b


def frechet_distance(embeddings_a: np.ndarray, embeddings_b: np.ndarray) -> float:
    """Return the Fréchet distance between two sets of embeddings [N, D] and [M, D].

    Computed by TF-GAN's `frechet_classifier_distance_from_activations` in float64.

    Raises:
      ValueError: the arrays are not 2-D with the same D and at least 2 rows each.
    """
    a, b = _two_sets(embeddings_a, embeddings_b)
    distance = tfgan.eval.frechet_classifier_distance_from_activations(
        tf.constant(a), tf.constant(b)
    )
    return float(max(float(distance), 0.0))


def classifier_score(logits: np.ndarray) -> float:
    """Return ``exp(E KL(p(y|x) || p(y)))`` of classifier `logits` [N, K] (TF-GAN's).

    Raises:
      ValueError: `logits` is not [N, K] with N >= 1 and K >= 2.
    """
    array = np.asarray(logits, np.float64)
    if array.ndim != 2 or len(array) < 1 or array.shape[1] < 2:
        raise ValueError(f"logits: expected [N, K] with N >= 1 and K >= 2, got {array.shape}")
    return float(tfgan.eval.classifier_score_from_logits(tf.constant(array)))


def class_entropy(class_ids: np.ndarray, num_classes: int) -> float:
    """Return the entropy (nats) of the histogram of predicted `class_ids` [N] over `num_classes`.

    Raises:
      ValueError: `class_ids` is empty or holds ids outside [0, num_classes).
    """
    ids = np.asarray(class_ids, np.int64).reshape(-1)
    if len(ids) == 0 or ids.min() < 0 or ids.max() >= num_classes:
        raise ValueError(f"class_ids: expected N >= 1 ids in [0, {num_classes}), got {ids[:5]}")
    p = np.bincount(ids, minlength=num_classes) / len(ids)
    p = p[p > 0]
    return float(-(p * np.log(p)).sum() + 0.0)


def mean_pairwise_distance(images: np.ndarray) -> float:
    """Return the mean L2 distance between all pairs of `images` [N, ...] (uint8 scaled to [0, 1]).

    Raises:
      ValueError: fewer than 2 images.
    """
    array = np.asarray(images)
    if len(array) < 2:
        raise ValueError(f"images: expected at least 2, got {len(array)}")
    flat = array.reshape(len(array), -1).astype(np.float64)
    if array.dtype == np.uint8:
        flat /= 255.0
    squared = (flat * flat).sum(axis=1)
    d2 = np.clip(squared[:, None] + squared[None, :] - 2.0 * flat @ flat.T, 0.0, None)
    upper = np.triu_indices(len(flat), k=1)
    return float(np.sqrt(d2[upper]).mean())


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
