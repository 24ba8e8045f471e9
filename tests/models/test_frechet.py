import numpy as np
import pytest

from reproml.models.frechet import (
    class_entropy,
    classifier_score,
    frechet_distance,
    mean_pairwise_distance,
    to_uint8_images,
)

RNG = np.random.default_rng(0)
SAMPLES = RNG.normal(size=(500, 4)) @ RNG.normal(size=(4, 4))  # correlated Gaussian


def test_identical_sets_are_at_distance_zero():
    assert frechet_distance(SAMPLES, SAMPLES) == pytest.approx(0.0, abs=1e-6)


@pytest.mark.parametrize("shift", [[1, 0, 0, 0], [0.5, -2, 3, 0.25], [10, 10, 10, 10]])
def test_shifted_mean_gives_the_squared_shift(shift):
    shift = np.array(shift, float)
    assert frechet_distance(SAMPLES, SAMPLES + shift) == pytest.approx(shift @ shift, rel=1e-6)


def test_scaled_set_gives_the_covariance_term():
    # b = 2 (a - mean): C_b = 4 C_a, sqrt(C_a C_b) = 2 C_a, so the distance is |mu_a|^2 + tr(C_a).
    centered = SAMPLES - SAMPLES.mean(axis=0)
    scaled = 2 * centered
    expected = SAMPLES.mean(axis=0) @ SAMPLES.mean(axis=0) + np.trace(np.cov(SAMPLES, rowvar=False))
    assert frechet_distance(SAMPLES, scaled) == pytest.approx(expected, rel=1e-5)


def test_known_gaussians_from_samples():
    a = RNG.normal(0, 1, size=(20000, 2))
    b = RNG.normal(3, 2, size=(20000, 2))
    # |mu|^2 = 2 * 9; trace term per dim: 1 + 4 - 2 * 2 = 1
    assert frechet_distance(a, b) == pytest.approx(18 + 2, rel=0.05)


def test_fewer_samples_than_dimensions_stays_finite():
    a, b = RNG.normal(size=(5, 16)), RNG.normal(size=(5, 16)) + 1
    distance = frechet_distance(a, b)
    assert np.isfinite(distance) and distance > 0


@pytest.mark.parametrize(
    "a, b",
    [
        (np.zeros((5, 3)), np.zeros((5, 4))),
        (np.zeros(5), np.zeros(5)),
        (np.zeros((1, 3)), np.zeros((4, 3))),
    ],
)
def test_bad_shapes_are_refused(a, b):
    with pytest.raises(ValueError, match="embeddings"):
        frechet_distance(a, b)


@pytest.mark.parametrize(
    "value, expected", [(-1.0, 0), (-2.0, 0), (0.0, 128), (1.0, 255), (5.0, 255)]
)
def test_generator_output_to_uint8(value, expected):
    assert to_uint8_images(np.array([value]))[0] == expected


def test_singular_covariances_are_exact_and_silent(recwarn):
    # Units that never fire (all-zero columns) make both covariances singular.
    a = np.concatenate([SAMPLES, np.zeros((500, 3))], axis=1)
    shift = np.array([1.0, 2.0, 0.0, 0.0, 0.0, 0.0, 0.0])
    assert frechet_distance(a, a + shift) == pytest.approx(5.0, rel=1e-5)
    assert not [w for w in recwarn if "singular" in str(w.message).lower()]


@pytest.mark.parametrize(
    ("probabilities", "expected"),
    [
        (np.eye(10), 10.0),  # confident and evenly spread: the number of classes
        (np.tile(np.eye(10)[3], (10, 1)), 1.0),  # every sample the same class: collapse
        (np.full((10, 10), 0.1), 1.0),  # no sample looks like any class
    ],
)
def test_classifier_score_bounds(probabilities, expected):
    logits = np.log(np.clip(probabilities, 1e-30, None))
    assert classifier_score(logits) == pytest.approx(expected, rel=1e-4)


@pytest.mark.parametrize(
    ("ids", "expected"),
    [([0, 1, 2, 3], np.log(4)), ([5, 5, 5], 0.0), ([0, 0, 1, 1], np.log(2))],
)
def test_class_entropy(ids, expected):
    assert class_entropy(np.array(ids), 10) == pytest.approx(expected)


def test_class_entropy_refuses_ids_out_of_range():
    with pytest.raises(ValueError, match="class_ids"):
        class_entropy(np.array([0, 10]), 10)


def test_mean_pairwise_distance_of_uint8_images_in_unit_scale():
    images = np.zeros((3, 2, 2, 1), np.uint8)
    images[1] = 255  # distance 2 (4 pixels of 1) from the others
    images[2, 0, 0] = 255  # distance 1 from image 0, sqrt(3) from image 1
    expected = (2.0 + 1.0 + np.sqrt(3.0)) / 3
    assert mean_pairwise_distance(images) == pytest.approx(expected)
    assert mean_pairwise_distance(np.repeat(images[:1], 5, axis=0)) == 0.0  # collapse
    with pytest.raises(ValueError, match="at least 2"):
        mean_pairwise_distance(images[:1])
