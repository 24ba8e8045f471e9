"""Windows of the production stream and the report over them, on synthetic embeddings."""

import json

import numpy as np
import pytest

from reproml.drift.embeddings import ImageBatch
from reproml.drift.monitor import assign_windows, drift_report
from reproml.errors import ConfigError
from tests.drift.conftest import synthetic_embeddings


def _batch(n, timestamps=None):
    return ImageBatch(np.zeros((n, 2, 2, 1), np.uint8), None, timestamps)


@pytest.mark.parametrize(
    ("n", "timestamps", "size", "seconds", "expected"),
    [
        (7, None, 3, None, [0, 0, 0, 1, 1, 1, 2]),  # record order, last window shorter
        (5, [100, 130, 160, 200, 259], None, 60, [0, 0, 1, 1, 2]),  # [100, 160), [160, 220), ...
        (4, [0, 10, 3600, 3601], None, 1800, [0, 0, 1, 1]),  # the empty window is dropped
        (3, [5.5, 5.0, 9.0], 2, 1, [0, 0, 1]),  # window_size wins over timestamps
    ],
)
def test_assign_windows(n, timestamps, size, seconds, expected):
    ids, how = assign_windows(
        _batch(n, None if timestamps is None else np.array(timestamps)),
        window_size=size,
        window_seconds=seconds,
    )
    assert ids.tolist() == expected
    assert ("record order" in how) == (size is not None)


@pytest.mark.parametrize(
    ("timestamps", "size", "seconds", "message"),
    [
        (None, None, 60, "'window_size': expected an int >= 1: the production data has no"),
        (None, 0, 60, "'window_size': expected None or an int >= 1"),
        (None, True, 60, "'window_size': expected None or an int >= 1"),
        ([1, 2], None, 0, "'window_seconds': expected a number > 0"),
        ([1, 2], None, "60", "'window_seconds': expected a number > 0"),
    ],
)
def test_assign_windows_refuses(timestamps, size, seconds, message):
    data = _batch(2, None if timestamps is None else np.array(timestamps))
    with pytest.raises(ConfigError, match=message):
        assign_windows(data, window_size=size, window_seconds=seconds)


def _stream(shifted, windows=6, size=30, seed=0):
    rng = np.random.default_rng(seed)
    baseline = synthetic_embeddings(rng.normal(size=(200, 6)), rng.integers(0, 2, 200))
    production = rng.normal(size=(windows * size, 6))
    ids = np.repeat(np.arange(windows), size)
    for w in shifted:
        production[ids == w] += 1.0
    classes = rng.integers(0, 2, windows * size)
    return baseline, synthetic_embeddings(production, classes), ids


def test_report_flags_exactly_the_shifted_windows_and_logs_what_it_did():
    baseline, production, ids = _stream(shifted=[2, 4], seed=1)
    report = drift_report(baseline, production, ids, ["a", "b"], windowing="test", seed=3)
    assert report.flagged_windows == [2, 4]
    assert report.alpha_per_window == pytest.approx(0.05 / 6)
    by_window = {w.window: w for w in report.windows}
    assert min(by_window[2].distance, by_window[4].distance) > 2 * max(
        by_window[w].distance for w in (0, 1, 3, 5)
    )
    assert all(set(w.class_distances) == {"a", "b"} for w in report.windows)
    assert all(w.accuracy is None for w in report.windows)  # no labels
    written = json.loads(json.dumps(report.to_json()))
    assert written["flagged_windows"] == [2, 4]
    assert [w["window"] for w in written["windows"]] == list(range(6))
    assert "Bonferroni" in written["false_alarm_rate"]


def test_clean_streams_raise_few_alarms_family_wise():
    """40 clean streams of 6 windows: the share of reports that flag anything is about alpha.

    Under the null each report flags something with probability <= alpha = 0.05 (Bonferroni):
    2 of 40 expected; binomial(40, 0.05) exceeds 6 with probability < 0.5%.
    """
    reports = [
        drift_report(*_stream(shifted=[], seed=s), ["a", "b"], num_permutations=199, seed=s)
        for s in range(40)
    ]
    alarms = sum(bool(r.flagged_windows) for r in reports)
    assert alarms <= 6
    p_values = np.array([w.p_value for r in reports for w in r.windows])
    assert (p_values < 0.05).mean() <= 0.1  # per window, unadjusted: about 5% of 240


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"alpha": 1.5}, "'alpha': expected a false-alarm rate in"),
        ({"num_permutations": 50}, "'num_permutations': expected at least 120"),
        ({"min_window": 31}, "'window_size': expected windows of at least 31 images"),
    ],
)
def test_report_refuses(kwargs, message):
    baseline, production, ids = _stream(shifted=[])
    with pytest.raises(ConfigError, match=message):
        drift_report(baseline, production, ids, ["a", "b"], **kwargs)
