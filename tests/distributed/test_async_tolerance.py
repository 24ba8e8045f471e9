"""The async parameter-server tolerances against the spread they were measured from.

benchmarks/ps_spread.json holds the final eval metrics of 5 identical 2-worker + 1-ps jobs of
``experiments.mnist`` (`python -m benchmarks.ps_spread`): every pair of them must be "reproduced
within tolerance" under `ASYNC_TOLERANCES`, and a changed result must not be.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest

from reproml.cluster.reproducibility import (
    ASYNC_TOLERANCES,
    VERDICT_DIFFERS,
    VERDICT_WITHIN_TOLERANCE,
    Tolerance,
    distributed_report,
    tolerance_for,
)
from reproml.errors import ConfigError

MEASURED = Path(__file__).resolve().parents[2] / "benchmarks" / "ps_spread.json"
ASYNC = {"cluster": {"strategy": "none", "synchronous": False, "num_trainers": 2, "num_ps": 1}}


def measured_jobs() -> list[dict[str, float]]:
    config = json.loads(MEASURED.read_text())["configs"]["mnist quick steps=2000"]
    return config["raw"]["async_ps_same_seed"]


def test_every_pair_of_the_measured_identical_jobs_is_within_tolerance():
    jobs = measured_jobs()
    assert len(jobs) == 5 and len(jobs[0]) == 24  # accuracy, loss, 2 means, 20 per-class
    assert len({json.dumps(job, sort_keys=True) for job in jobs}) == 5  # the jobs did differ
    for a, b in itertools.combinations(jobs, 2):
        lines, verdict = distributed_report(ASYNC, ASYNC, a, b)
        assert verdict == VERDICT_WITHIN_TOLERANCE, "\n".join(lines)


def test_the_old_single_tolerance_would_have_called_faithful_reruns_not_reproduced():
    """rtol=0.1, atol=0.02 for every metric (the unmeasured default before) fails real re-runs."""
    old = [Tolerance("*", 0.10, 0.02)]
    verdicts = {
        distributed_report(ASYNC, ASYNC, a, b, old)[1]
        for a, b in itertools.combinations(measured_jobs(), 2)
    }
    assert verdicts == {VERDICT_DIFFERS}  # all 10 pairs


def test_a_changed_result_is_not_reproduced_and_the_line_names_the_tolerance():
    a = measured_jobs()[0]
    b = {**a, "eval.accuracy": a["eval.accuracy"] - 0.10}
    lines, verdict = distributed_report(ASYNC, ASYNC, a, b)
    assert verdict == VERDICT_DIFFERS
    line = next(line for line in lines if line.startswith("eval.accuracy:"))
    assert line.endswith("(|diff| 0.1; rtol=0, atol=0.06; measured spread 0.043)  DIFFERS")
    assert lines[0].startswith("compared within each metric's tolerance (shown per metric)")


def test_the_first_matching_tolerance_applies_and_unknown_metrics_get_the_stated_default():
    assert tolerance_for("eval.loss", ASYNC_TOLERANCES).rtol == 0.75
    assert tolerance_for("eval.recall/class_3", ASYNC_TOLERANCES).atol == 0.25
    default = tolerance_for("eval.frechet_distance", ASYNC_TOLERANCES)
    assert (default.pattern, default.measured) == ("*", "")
    assert default.describe() == "rtol=0.1, atol=0.02; not measured"
    with pytest.raises(ConfigError, match="'tolerances'.*'eval.x'"):
        tolerance_for("eval.x", [Tolerance("train.*", 0.1, 0.1)])


def test_one_tolerance_for_every_metric_replaces_the_table():
    a, b = {"eval.accuracy": 0.9, "eval.loss": 0.2}, {"eval.accuracy": 0.8, "eval.loss": 0.3}
    assert distributed_report(ASYNC, ASYNC, a, b)[1] == VERDICT_DIFFERS
    lines, verdict = distributed_report(ASYNC, ASYNC, a, b, [Tolerance("*", 0.0, 0.15)])
    assert verdict == VERDICT_WITHIN_TOLERANCE, lines
