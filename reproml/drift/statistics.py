"""The two-sample test of a production window against the baseline: MMD, permutation p-value.

Why this test. The maximum mean discrepancy (MMD) with a Gaussian (RBF) kernel is zero exactly
when two distributions are equal (the kernel is characteristic), so it sees any change of the
embedding distribution -- a shifted mean, a wider spread, a new cluster -- not only the shift
of the mean that the Euclidean distance of mean embeddings measures. Its p-value comes from a
permutation test (`scipy.stats.permutation_test`): under the null hypothesis that the window's
embeddings come from the baseline's distribution, the pooled sample is exchangeable, so the
p-value is valid for any sample size (no asymptotics): P(p <= a) <= a for every a. scipy adds
one to both counts of a randomized test, so p >= 1 / (num_permutations + 1), never 0.

How the false-alarm rate is controlled. A report tests W windows; a window is flagged when its
p-value is below ``alpha / W`` (Bonferroni). By the union bound, the probability that a report
flags at least one window of a stream without drift is at most `alpha` (the family-wise
false-alarm rate), whether or not the windows are independent. ``num_permutations`` must be
large enough that ``1 / (num_permutations + 1) < alpha / W``, or no window could ever be flagged
(`check_permutations` refuses it).

The kernel width is fixed from the baseline alone (the median heuristic: gamma = 1 / (2 m^2),
m the median pairwise distance of baseline embeddings), so it is the same for every window and
does not depend on the data being tested. The kernel is scikit-learn's `rbf_kernel`, computed
once per window on the pooled sample; a permutation only re-indexes it.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from scipy import stats
from sklearn.metrics.pairwise import pairwise_distances, rbf_kernel

from reproml.errors import ConfigError

# Permutations evaluated per vectorized call (memory: batch x pooled size floats, twice).
_PERMUTATION_BATCH = 64


@dataclasses.dataclass(frozen=True)
class TestResult:
    """One window's test: the (biased, V-statistic) MMD^2 and its permutation p-value."""

    mmd2: float
    p_value: float


def median_heuristic_gamma(baseline: np.ndarray, max_points: int = 1000, seed: int = 0) -> float:
    """Return gamma = 1 / (2 m^2), m the median pairwise Euclidean distance of `baseline`.

    Args:
      baseline: [N, D] embeddings (N >= 2).
      max_points: at most this many rows are used (a seeded random subset).
      seed: the subset's seed.

    Raises:
      ConfigError: fewer than two rows, or all rows equal (the median distance is 0).
    """
    baseline = np.asarray(baseline, np.float64)
    if baseline.ndim != 2 or len(baseline) < 2:
        raise ConfigError("baseline", "at least 2 embeddings [N, D]", list(baseline.shape))
    if len(baseline) > max_points:
        rows = np.random.default_rng(seed).choice(len(baseline), max_points, replace=False)
        baseline = baseline[rows]
    distances = pairwise_distances(baseline)
    median = float(np.median(distances[np.triu_indices(len(baseline), k=1)]))
    if not median > 0:
        raise ConfigError("baseline", "embeddings that are not all equal", "all equal")
    return 1.0 / (2.0 * median**2)


def check_permutations(num_permutations: int, alpha: float, num_windows: int) -> None:
    """Refuse a permutation count whose smallest p-value could never be below alpha / windows.

    Raises:
      ConfigError: ``1 / (num_permutations + 1) >= alpha / num_windows`` (names the count needed).
    """
    needed = int(np.ceil(num_windows / alpha))  # 1 / (n + 1) < alpha / W  <=>  n + 1 > W / alpha
    if 1.0 / (num_permutations + 1) >= alpha / num_windows:
        raise ConfigError(
            "num_permutations",
            f"at least {needed} for alpha={alpha} over {num_windows} windows "
            f"(the smallest p-value is 1 / (num_permutations + 1))",
            num_permutations,
        )


def mmd_permutation_test(
    baseline: np.ndarray,
    window: np.ndarray,
    *,
    gamma: float,
    num_permutations: int,
    seed: int,
) -> TestResult:
    """Test whether `window` comes from the distribution of `baseline` (MMD, permutations).

    Args:
      baseline: [M, D] baseline embeddings.
      window: [N, D] production embeddings of one window.
      gamma: the RBF kernel's gamma (`median_heuristic_gamma` of the baseline).
      num_permutations: random permutations of the pooled sample.
      seed: the permutations' seed (the p-value is reproducible).

    Returns:
      The observed MMD^2 and the one-sided permutation p-value (large MMD = drift).

    Raises:
      ConfigError: a sample with no rows, or samples of different widths.
    """
    baseline, window = np.asarray(baseline, np.float64), np.asarray(window, np.float64)
    if baseline.ndim != 2 or window.ndim != 2 or baseline.shape[1] != window.shape[1]:
        raise ConfigError("window", f"[N, {baseline.shape[-1]}] embeddings", list(window.shape))
    if len(baseline) == 0 or len(window) == 0:
        raise ConfigError("window", "at least one embedding on each side", len(window))
    pooled = np.concatenate([baseline, window])
    kernel = rbf_kernel(pooled, gamma=gamma)
    size = len(pooled)

    def statistic(x: np.ndarray, y: np.ndarray, axis: int = -1) -> np.ndarray:
        # x, y: indices into `pooled` ([..., M] and [..., N]); the biased MMD^2 of each row.
        x, y = np.moveaxis(x, axis, -1).astype(np.intp), np.moveaxis(y, axis, -1).astype(np.intp)
        lead = x.shape[:-1]
        x, y = x.reshape(-1, x.shape[-1]), y.reshape(-1, y.shape[-1])
        rows = np.arange(len(x))[:, None]
        weights_x = np.zeros((len(x), size))
        weights_y = np.zeros((len(y), size))
        weights_x[rows, x] = 1.0 / x.shape[1]
        weights_y[rows, y] = 1.0 / y.shape[1]
        kx, ky = weights_x @ kernel, weights_y @ kernel
        mmd2 = (
            np.einsum("ij,ij->i", kx, weights_x)
            + np.einsum("ij,ij->i", ky, weights_y)
            - 2.0 * np.einsum("ij,ij->i", kx, weights_y)
        )
        return mmd2.reshape(lead)

    indices = (
        np.arange(len(baseline), dtype=np.float64),
        np.arange(len(baseline), size, dtype=np.float64),
    )
    result = stats.permutation_test(
        indices,
        statistic,
        permutation_type="independent",
        vectorized=True,
        n_resamples=num_permutations,
        alternative="greater",
        batch=_PERMUTATION_BATCH,
        random_state=np.random.default_rng(seed),
    )
    return TestResult(float(result.statistic), float(result.pvalue))
