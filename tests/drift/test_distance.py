"""The seed's metric: distance of mean embeddings, overall and per predicted class."""

import numpy as np
import pytest

from reproml.drift.distance import class_distances, mean_distance, reference_distance
from reproml.errors import ConfigError


@pytest.mark.parametrize(
    ("baseline", "production", "expected"),
    [
        ([[0, 0], [2, 0]], [[4, 3], [4, 3]], np.hypot(3, 3)),  # means (1, 0) and (4, 3)
        ([[1, 1]], [[1, 1], [1, 1]], 0.0),
        ([[0, 0], [0, 2]], [[3, 5]], 5.0),  # means (0, 1) and (3, 5)
    ],
)
def test_mean_distance_is_the_euclidean_distance_of_the_means(baseline, production, expected):
    assert mean_distance(np.array(baseline), np.array(production)) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("baseline", "production", "message"),
    [
        (np.zeros((2, 3)), np.zeros((2, 4)), r"'production': expected \[N, 3\] embeddings"),
        (np.zeros((2, 3)), np.zeros((0, 3)), "at least one embedding on each side"),
    ],
)
def test_mean_distance_refuses_mismatched_or_empty_sides(baseline, production, message):
    with pytest.raises(ConfigError, match=message):
        mean_distance(baseline, production)


def test_class_distances_show_a_drift_confined_to_one_class():
    rng = np.random.default_rng(0)
    baseline = rng.normal(size=(300, 4))
    baseline_classes = np.repeat([0, 1, 2], 100)
    production = rng.normal(size=(90, 4))
    production_classes = np.repeat([0, 1, 2], 30)
    production[production_classes == 1] += 3.0  # only class "b" moved
    distances = class_distances(
        baseline, baseline_classes, production, production_classes, ["a", "b", "c", "d"]
    )
    assert distances["b"] > 4 * max(distances["a"], distances["c"])
    assert distances["d"] is None  # never predicted: no distance, not 0


def test_reference_distance_is_what_clean_windows_reach_by_chance():
    rng = np.random.default_rng(1)
    baseline = rng.normal(size=(500, 4))
    small, large = reference_distance(baseline, 10), reference_distance(baseline, 200)
    assert large < small  # means of larger windows wander less
    window = rng.normal(size=(10, 4))
    assert mean_distance(baseline, window) < 2 * small
    assert mean_distance(baseline, window + 2.0) > 2 * small
