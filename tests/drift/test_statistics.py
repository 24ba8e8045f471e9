"""The window test: MMD permutation p-values are calibrated, powerful, and refuse what cannot work."""

import numpy as np
import pytest
from sklearn.metrics.pairwise import rbf_kernel

from reproml.drift.statistics import (
    check_permutations,
    median_heuristic_gamma,
    mmd_permutation_test,
)
from reproml.errors import ConfigError


def test_statistic_is_the_biased_mmd2_of_sklearns_rbf_kernel():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(50, 4)), rng.normal(0.5, size=(20, 4))
    gamma = median_heuristic_gamma(x)
    k = rbf_kernel(np.concatenate([x, y]), gamma=gamma)
    direct = k[:50, :50].mean() + k[50:, 50:].mean() - 2 * k[:50, 50:].mean()
    result = mmd_permutation_test(x, y, gamma=gamma, num_permutations=99, seed=0)
    assert result.mmd2 == pytest.approx(direct, rel=1e-12)


def test_false_alarm_rate_under_the_null_is_at_most_alpha():
    """200 windows from the baseline's distribution: about 5% have p < 0.05, none p = 0."""
    rng = np.random.default_rng(1)
    gamma = median_heuristic_gamma(rng.normal(size=(128, 8)))
    p = np.array(
        [
            mmd_permutation_test(
                rng.normal(size=(128, 8)),
                rng.normal(size=(32, 8)),
                gamma=gamma,
                num_permutations=99,
                seed=i,
            ).p_value
            for i in range(200)
        ]
    )
    assert p.min() >= 1 / 100  # scipy adds one to both counts: never 0
    assert (p < 0.05).mean() <= 0.09  # binomial(200, 0.05): mean 10, P(> 18) < 0.5%
    assert (p < 0.5).mean() == pytest.approx(0.5, abs=0.12)  # roughly uniform


def test_a_shifted_or_wider_window_gets_the_smallest_p_value():
    rng = np.random.default_rng(2)
    baseline = rng.normal(size=(128, 8))
    gamma = median_heuristic_gamma(baseline)
    for window in (rng.normal(1.0, 1.0, size=(32, 8)), rng.normal(0.0, 2.0, size=(32, 8))):
        result = mmd_permutation_test(baseline, window, gamma=gamma, num_permutations=199, seed=0)
        assert result.p_value == pytest.approx(1 / 200)


def test_p_values_are_reproducible_from_the_seed():
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(40, 3)), rng.normal(size=(10, 3))
    runs = [mmd_permutation_test(x, y, gamma=0.5, num_permutations=99, seed=7) for _ in range(2)]
    assert runs[0] == runs[1]


@pytest.mark.parametrize(
    ("permutations", "alpha", "windows", "ok"),
    [(199, 0.05, 8, True), (159, 0.05, 8, False), (999, 0.01, 10, False), (1000, 0.01, 10, True)],
)
def test_permutations_must_allow_a_p_value_below_alpha_over_windows(
    permutations, alpha, windows, ok
):
    if ok:
        check_permutations(permutations, alpha, windows)
    else:
        with pytest.raises(
            ConfigError, match=r"'num_permutations': expected at least \d+ for alpha"
        ):
            check_permutations(permutations, alpha, windows)


@pytest.mark.parametrize(
    ("baseline", "message"),
    [(np.zeros((1, 3)), "at least 2 embeddings"), (np.ones((5, 3)), "not all equal")],
)
def test_bandwidth_needs_two_distinct_baseline_embeddings(baseline, message):
    with pytest.raises(ConfigError, match=message):
        median_heuristic_gamma(baseline)


def test_window_of_another_width_is_refused():
    with pytest.raises(ConfigError, match=r"'window': expected \[N, 3\] embeddings"):
        mmd_permutation_test(
            np.zeros((4, 3)), np.zeros((2, 4)), gamma=1.0, num_permutations=9, seed=0
        )
