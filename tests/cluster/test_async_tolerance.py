"""The async parameter-server tolerances against the spread they were measured from.

benchmarks/ps_spread.json holds the final eval metrics of 5 identical 2-worker + 1-ps jobs of
``experiments.mnist`` and of ``experiments.mnist_gan`` (`python -m benchmarks.ps_spread`): every
pair of them must be "reproduced within tolerance" under the tolerances each experiment declares
(``ASYNC_TOLERANCES`` in its file, recorded with every run), and a changed result must not be. A
run recorded before experiments declared them is compared with `LEGACY_ASYNC_TOLERANCES`.
"""

from __future__ import annotations

import importlib
import itertools
import json
from pathlib import Path

import pytest

from reproml.errors import ConfigError, RecordError
from reproml.runs.reproducibility import (
    LEGACY_ASYNC_TOLERANCES,
    TOLERANCES_INFO,
    UNMEASURED,
    VERDICT_DIFFERS,
    VERDICT_WITHIN_TOLERANCE,
    Tolerance,
    async_tolerances,
    declare_tolerances,
    distributed_report,
    tolerance_for,
)

MEASURED = Path(__file__).resolve().parents[2] / "benchmarks" / "ps_spread.json"
ASYNC = {"cluster": {"strategy": "none", "synchronous": False, "num_trainers": 2, "num_ps": 1}}


def recorded(experiment: str) -> dict:
    """The info of an async run of ``experiments.<experiment>``: with the tolerances it declares."""
    module = importlib.import_module(f"experiments.{experiment}")
    declared = declare_tolerances(module.ASYNC_TOLERANCES, getattr(module, "ASYNC_CAVEAT", ""))
    return {**ASYNC, TOLERANCES_INFO: declared}


def measured_jobs(key: str = "mnist quick steps=2000", kind: str = "async_ps_same_seed") -> list:
    """The final eval metrics of the measured jobs, with ``result`` as the experiment's."""
    jobs = json.loads(MEASURED.read_text())["configs"][key]["raw"][kind]
    result = "eval.frechet_distance" if key.startswith("mnist_gan") else "eval.accuracy"
    return [{**job, "result": job[result]} for job in jobs]


@pytest.mark.parametrize(
    "experiment, key, metrics",
    [
        ("mnist", "mnist quick steps=2000", 25),  # accuracy, loss, 2 means, 20 per class, result
        ("mnist_gan", "mnist_gan quick steps=400", 8),  # 4 scores, 3 losses, result
    ],
)
def test_every_pair_of_the_measured_identical_jobs_is_within_tolerance(experiment, key, metrics):
    jobs = measured_jobs(key)
    assert len(jobs) == 5 and len(jobs[0]) == metrics
    assert len({json.dumps(job, sort_keys=True) for job in jobs}) == 5  # the jobs did differ
    for a, b in itertools.combinations(jobs, 2):
        lines, verdict = distributed_report(recorded(experiment), ASYNC, a, b)
        assert verdict == VERDICT_WITHIN_TOLERANCE, "\n".join(lines)
        # A run recorded before experiments declared tolerances: the same verdict, as before.
        assert distributed_report(ASYNC, ASYNC, a, b, experiment=experiment)[1] == verdict
        assert not any(line.endswith("not measured)  ok") for line in lines), lines


def test_the_gan_tolerance_is_as_wide_as_a_change_of_seed():
    """What docs/distributed.md says: for the GAN a within-tolerance verdict is weak evidence."""
    seeds = measured_jobs("mnist_gan quick steps=400", "one_process_other_seeds")
    verdicts = {
        distributed_report(recorded("mnist_gan"), ASYNC, a, b)[1]
        for a, b in itertools.combinations(seeds, 2)
    }
    assert VERDICT_WITHIN_TOLERANCE in verdicts


def test_a_within_tolerance_gan_verdict_says_it_cannot_tell_a_change_of_seed():
    a, b = measured_jobs("mnist_gan quick steps=400")[:2]
    lines, verdict = distributed_report(recorded("mnist_gan"), ASYNC, a, b)
    assert verdict == VERDICT_WITHIN_TOLERANCE
    assert lines[-1].startswith("caveat: the spread of identical async jobs of this experiment")
    assert "as wide as a change of seed" in lines[-1]
    # The classifier's tolerance does tell seeds apart: no caveat.
    a, b = measured_jobs()[:2]
    lines, verdict = distributed_report(recorded("mnist"), ASYNC, a, b)
    assert verdict == VERDICT_WITHIN_TOLERANCE and not any("caveat" in line for line in lines)
    # A differing GAN result needs no caveat; neither do tolerances the user chose.
    gan = measured_jobs("mnist_gan quick steps=400")[0]
    worse = {**gan, "eval.frechet_distance": gan["eval.frechet_distance"] * 10}
    lines, verdict = distributed_report(recorded("mnist_gan"), ASYNC, gan, worse)
    assert verdict == VERDICT_DIFFERS and not any("caveat" in line for line in lines)
    lines, verdict = distributed_report(
        ASYNC,
        ASYNC,
        *measured_jobs("mnist_gan quick steps=400")[:2],
        [Tolerance("*", 1.0, 100.0)],
        "mnist_gan",
    )
    assert verdict == VERDICT_WITHIN_TOLERANCE and not any("caveat" in line for line in lines)


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
    lines, verdict = distributed_report(ASYNC, ASYNC, a, b, experiment="mnist")
    assert verdict == VERDICT_DIFFERS
    line = next(line for line in lines if line.startswith("eval.accuracy:"))
    assert line.endswith("(|diff| 0.1; rtol=0, atol=0.06; measured spread 0.043)  DIFFERS")
    assert lines[0].startswith("compared within each metric's tolerance (shown per metric)")


def test_the_first_matching_tolerance_applies_and_unknown_metrics_get_the_stated_default():
    mnist, gan = LEGACY_ASYNC_TOLERANCES["mnist"], LEGACY_ASYNC_TOLERANCES["mnist_gan"]
    assert tolerance_for("eval.loss", mnist).rtol == 0.75
    assert tolerance_for("eval.loss", gan).atol == 10.5  # the same name, another quantity
    assert tolerance_for("eval.recall/class_3", mnist).atol == 0.25
    default = tolerance_for("eval.frechet_distance", mnist)
    assert (default.pattern, default.measured) == ("*", "")
    assert async_tolerances("my_experiment") == (UNMEASURED,)
    assert default.describe() == "rtol=0.1, atol=0.02; not measured"
    with pytest.raises(ConfigError, match="'tolerances'.*'eval.x'"):
        tolerance_for("eval.x", [Tolerance("train.*", 0.1, 0.1)])


def test_one_tolerance_for_every_metric_replaces_the_table():
    a, b = {"eval.accuracy": 0.9, "eval.loss": 0.2}, {"eval.accuracy": 0.8, "eval.loss": 0.3}
    assert distributed_report(ASYNC, ASYNC, a, b, experiment="mnist")[1] == VERDICT_DIFFERS
    lines, verdict = distributed_report(ASYNC, ASYNC, a, b, [Tolerance("*", 0.0, 0.15)], "mnist")
    assert verdict == VERDICT_WITHIN_TOLERANCE, lines


def test_an_experiment_anywhere_is_compared_with_the_tolerances_its_run_recorded():
    a, b = {"eval.accuracy": 0.9, "result": 0.9}, {"eval.accuracy": 0.8, "result": 0.8}
    # Not declared: the stated default for every metric (atol 0.02) -> differs.
    assert distributed_report(ASYNC, ASYNC, a, b, experiment="textures")[1] == VERDICT_DIFFERS
    wide = declare_tolerances([Tolerance("*", 0.0, 0.15, measured="0.11")], "a caveat")
    info = {**ASYNC, TOLERANCES_INFO: json.loads(json.dumps(wide))}  # as read back from a store
    lines, verdict = distributed_report(info, ASYNC, a, b, experiment="textures")
    assert verdict == VERDICT_WITHIN_TOLERANCE, lines
    assert "measured spread 0.11" in lines[1] and lines[-1] == "caveat: a caveat"
    # The recorded table wins over the legacy one of a same-named experiment.
    assert async_tolerances("mnist", info) == (Tolerance("*", 0.0, 0.15, "0.11"),)


@pytest.mark.parametrize(
    ("tolerances", "match"),
    [
        ([Tolerance("eval.*", 0.1, 0.1)], "a table ending with a '\\*' pattern"),
        ([Tolerance("*", -0.1, 0.0)], "rtol and atol finite numbers >= 0"),
        ([Tolerance("*", 0.0, float("nan"))], "rtol and atol finite numbers >= 0"),
        ("*", "a sequence of reproml Tolerance"),
        ([("*", 0.1, 0.1)], "a sequence of reproml Tolerance"),
    ],
)
def test_a_malformed_declaration_is_refused_naming_the_entry(tolerances, match):
    with pytest.raises(ConfigError, match=match):
        declare_tolerances(tolerances)


@pytest.mark.parametrize(
    "value",
    [
        {"tolerances": [{"pattern": "*", "rtol": "wide"}]},
        {"tolerances": [{"pattern": "eval.*", "rtol": 0.1, "atol": 0.1}]},
        ["*"],
        "edited",
    ],
)
def test_an_edited_recorded_table_is_refused_in_one_line(value):
    with pytest.raises(RecordError, match=f"info.{TOLERANCES_INFO}: is not a table of tolerances"):
        distributed_report({**ASYNC, TOLERANCES_INFO: value}, ASYNC, {"a": 1.0}, {"a": 1.0})
