"""How a re-run of a distributed job is compared with the recorded run, stated per strategy.

* One process, or synchronous all-reduce (``collective``, MultiWorkerMirroredStrategy) with the
  same number of trainers: same seed, same input shards, same reduction order -> the same
  numbers. Compared exactly. A different cluster size changes the global batch and the shards:
  that is another experiment, and the comparison says so instead of comparing.
* Asynchronous parameter-server training (ps tasks): each worker's gradients are applied in the
  order they reach the ps, which depends on timing, so no two runs are bit-identical. Each metric
  is compared within a tolerance measured on identical jobs (declared by the experiment and
  recorded with its runs: `declare_tolerances`, `recorded_tolerances`), printed with it; never
  reported as "NOT reproduced" for differences inside it. (A short job can still come out
  bit-identical: TensorFlow starts worker ``i`` (i+1) x 5 s after the chief, so a job shorter
  than that is trained by the chief alone.)

`reproml reproduce` calls `distributed_report(recorded info, re-run info, recorded metrics,
re-run metrics)`, which checks the shape (`cluster_mismatch`), then `expectation_for` and
`compare_metrics`; `relaunch` re-runs a recorded job on a local cluster of the same shape.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import json
import math
import os
import sys
from collections.abc import Mapping, Sequence
from typing import IO, Any

from reproml.cluster.distribution import STRATEGY_ENV
from reproml.cluster.launcher import launch
from reproml.errors import ConfigError, RecordError
from reproml.runs.record import TIMING_METRICS
from reproml.runs.started import experiment_command


@dataclasses.dataclass(frozen=True)
class Tolerance:
    """How close a metric of a re-run must be: ``|a - b| <= max(rtol * max(|a|, |b|), atol)``.

    Attributes:
      pattern: the metric names it applies to (`fnmatch` glob, e.g. ``"eval.recall/*"``).
      rtol: relative tolerance.
      atol: absolute tolerance.
      measured: the spread it was set from (an experiment's table), or "" for a stated default.
    """

    pattern: str
    rtol: float
    atol: float
    measured: str = ""

    def matches(self, name: str) -> bool:
        """Whether this tolerance applies to the metric `name`."""
        return fnmatch.fnmatchcase(name, self.pattern)

    def allows(self, a: float, b: float) -> bool:
        """Whether `a` and `b` are within this tolerance (NaN is never close to anything)."""
        return math.isclose(a, b, rel_tol=self.rtol, abs_tol=self.atol)

    def describe(self) -> str:
        """``rtol=…, atol=…`` plus where the numbers come from."""
        source = f"measured spread {self.measured}" if self.measured else "not measured"
        return f"rtol={self.rtol:g}, atol={self.atol:g}; {source}"


# The run info key of an experiment's declared tolerances (`declare_tolerances`).
TOLERANCES_INFO = "reproduce_tolerances"

# A metric whose spread was not measured: a stated default, marked "not measured" when printed.
UNMEASURED = Tolerance("*", rtol=0.10, atol=0.02)

# Async PS tolerances of runs recorded before experiments declared their own (`rx.track(ex,
# tolerances=...)`, recorded in ``info["reproduce_tolerances"]``): the tables reproml's two
# experiments used then, kept so an old run is compared as it always was. The first matching
# pattern wins. Set from the spread of 5 identical jobs (same seed, config and records: 2 workers + 1 ps on the
# quick records, 256 test digits), `python -m benchmarks.ps_spread --experiment NAME` ->
# benchmarks/ps_spread.json, with ~30 % margin over the largest difference between two of them:
# faithful async re-runs differ by this much; a metric outside it is a different result. An
# experiment or metric the table does not know gets `UNMEASURED`. (The same name can mean two
# things: ``eval.loss`` is the classifier's cross-entropy, the GAN's critic loss.)
LEGACY_ASYNC_TOLERANCES: dict[str, tuple[Tolerance, ...]] = {
    # experiments.mnist, 2000 steps.
    "mnist": (
        Tolerance("*loss*", rtol=0.75, atol=0.0, measured="0.58 relative (eval.loss)"),
        Tolerance("eval.precision/*", rtol=0.0, atol=0.25, measured="0.19 (per class)"),
        Tolerance("eval.recall/*", rtol=0.0, atol=0.25, measured="0.19 (per class)"),
        Tolerance("eval.accuracy", rtol=0.0, atol=0.06, measured="0.043"),
        Tolerance("result", rtol=0.0, atol=0.06, measured="0.043 (the accuracy)"),
        Tolerance("eval.mean_*", rtol=0.0, atol=0.06, measured="0.039"),
        UNMEASURED,
    ),
    # experiments.mnist_gan, 400 steps: as wide as the spread between seeds (see docs).
    "mnist_gan": (
        Tolerance("eval.frechet_distance", rtol=0.5, atol=0.0, measured="0.38 relative"),
        Tolerance("result", rtol=0.5, atol=0.0, measured="0.38 relative (the Fréchet distance)"),
        Tolerance("eval.pairwise_distance", rtol=0.5, atol=0.0, measured="0.38 relative"),
        Tolerance("eval.mnist_score", rtol=0.33, atol=0.0, measured="0.25 relative"),
        Tolerance("eval.class_entropy", rtol=0.0, atol=0.17, measured="0.12"),
        # Wasserstein losses change sign between re-runs: an absolute tolerance.
        Tolerance("*loss*", rtol=0.0, atol=10.5, measured="8.1 (eval.generator_loss)"),
        UNMEASURED,
    ),
}


# The caveat printed with a "within tolerance" verdict of such an old run (see above).
LEGACY_ASYNC_CAVEATS: dict[str, str] = {
    "mnist_gan": (
        "the spread of identical async jobs of this experiment is as wide as a change of seed "
        "(measured), so within tolerance means the same ballpark, not the same result; train "
        "with all-reduce to compare exactly"
    ),
}


def declare_tolerances(tolerances: Sequence[Tolerance], caveat: str = "") -> dict[str, Any]:
    """Return an experiment's declared async tolerances as recorded in a run's info.

    Args:
      tolerances: the experiment's table, the first matching pattern wins; one must be ``"*"``
        (every metric gets a tolerance).
      caveat: printed with a "within tolerance" verdict (e.g. the spread is as wide as a seed's).

    Raises:
      ConfigError: not a sequence of `Tolerance`, a negative or non-finite rtol/atol, or no
        ``"*"`` pattern.
    """
    if isinstance(tolerances, str | bytes) or not all(isinstance(t, Tolerance) for t in tolerances):
        raise ConfigError("tolerances", "a sequence of reproml Tolerance", tolerances)
    for t in tolerances:
        if not all(
            isinstance(v, int | float) and math.isfinite(v) and v >= 0 for v in (t.rtol, t.atol)
        ):
            raise ConfigError(f"tolerances[{t.pattern!r}]", "rtol and atol finite numbers >= 0", t)
    if not any(t.pattern == "*" for t in tolerances):
        raise ConfigError(
            "tolerances", "a table ending with a '*' pattern (every metric)", tolerances
        )
    if not isinstance(caveat, str):
        raise ConfigError("tolerance_caveat", "a string", caveat)
    return {"tolerances": [dataclasses.asdict(t) for t in tolerances], "caveat": caveat}


def recorded_tolerances(info: Mapping[str, Any] | None) -> tuple[tuple[Tolerance, ...], str] | None:
    """Return the tolerances and caveat a run recorded (`declare_tolerances`), or None.

    Raises:
      RecordError: ``info["reproduce_tolerances"]`` is there but not what `declare_tolerances`
        writes (names the entry).
    """
    recorded = (info or {}).get(TOLERANCES_INFO)
    if recorded is None:
        return None
    where = f"info.{TOLERANCES_INFO}"
    try:
        table = tuple(
            Tolerance(
                str(t["pattern"]), float(t["rtol"]), float(t["atol"]), str(t.get("measured", ""))
            )
            for t in recorded["tolerances"]
        )
        declared = declare_tolerances(table, recorded.get("caveat", ""))
    except (KeyError, TypeError, ValueError, AttributeError, ConfigError) as err:
        raise RecordError(
            where, f"is not a table of tolerances ({type(err).__name__}: {err})"
        ) from None
    return table, declared["caveat"]


def async_tolerances(
    experiment: str | None, info: Mapping[str, Any] | None = None
) -> tuple[Tolerance, ...]:
    """Return the tolerances of a run's metrics.

    Those the run recorded in its `info`, else the legacy table of `experiment`, else
    `UNMEASURED` for every metric.
    """
    recorded = recorded_tolerances(info)
    if recorded is not None:
        return recorded[0]
    return LEGACY_ASYNC_TOLERANCES.get(experiment or "", (UNMEASURED,))


def async_caveat(experiment: str | None, info: Mapping[str, Any] | None = None) -> str:
    """Return the caveat of a "within tolerance" verdict (recorded, else legacy, else "")."""
    recorded = recorded_tolerances(info)
    if recorded is not None:
        return recorded[1]
    return LEGACY_ASYNC_CAVEATS.get(experiment or "", "")


def tolerance_for(name: str, tolerances: Sequence[Tolerance]) -> Tolerance:
    """Return the first of `tolerances` whose pattern matches the metric `name`.

    Raises:
      ConfigError: none matches (end the table with a ``"*"`` pattern).
    """
    for tolerance in tolerances:
        if tolerance.matches(name):
            return tolerance
    raise ConfigError("tolerances", f"a tolerance matching the metric {name!r} (add '*')", None)


@dataclasses.dataclass(frozen=True)
class Expectation:
    """What a faithful re-run gives: identical numbers, or numbers within tolerances, and why."""

    exact: bool
    reason: str
    tolerances: tuple[Tolerance, ...] = ()
    caveat: str = ""

    def describe(self) -> str:
        """One line for the user: how metrics are compared and why."""
        if self.exact:
            return f"compared exactly: {self.reason}"
        return f"compared within each metric's tolerance (shown per metric): {self.reason}"


@dataclasses.dataclass(frozen=True)
class MetricComparison:
    """One metric of the recorded run against the re-run."""

    name: str
    recorded: float | None
    rerun: float | None
    ok: bool
    tolerance: Tolerance | None = None

    def describe(self) -> str:
        """``name: recorded vs re-run (difference) ok|DIFFERS`` (with the tolerance, if any)."""
        if self.recorded is None or self.rerun is None:
            return f"{self.name}: recorded {self.recorded}, re-run {self.rerun}  MISSING"
        diff = abs(self.recorded - self.rerun)
        verdict = "ok" if self.ok else "DIFFERS"
        within = f"; {self.tolerance.describe()}" if self.tolerance is not None else ""
        return f"{self.name}: {self.recorded!r} vs {self.rerun!r} (|diff| {diff:.3g}{within})  {verdict}"


def expectation_for(
    cluster: Mapping[str, Any] | None,
    tolerances: Sequence[Tolerance] | None = None,
    experiment: str | None = None,
    info: Mapping[str, Any] | None = None,
) -> Expectation:
    """Return how a re-run of a job with this recorded cluster info is compared.

    Args:
      cluster: the run's recorded `reproml.cluster.distribution.cluster_info` (None: one process).
      tolerances: for an asynchronous job, the tolerances to apply (default: those the run
        recorded, `async_tolerances`).
      experiment: the experiment's name, which picks the legacy table for a run that recorded
        no tolerances.
      info: the recorded run's info (its declared tolerances, `recorded_tolerances`).
    """
    if not cluster:
        return Expectation(True, "one process with seeded graphs and deterministic ops")
    trainers = cluster.get("num_trainers", 1)
    if cluster.get("num_ps", 0) or not cluster.get("synchronous", True):
        return Expectation(
            False,
            f"asynchronous parameter-server training ({cluster.get('num_ps')} ps, {trainers} "
            "trainers) applies gradients in arrival order, which depends on timing: runs are "
            "never bit-identical",
            tolerances=(
                async_tolerances(experiment, info) if tolerances is None else tuple(tolerances)
            ),
            caveat=async_caveat(experiment, info) if tolerances is None else "",
        )
    return Expectation(
        True,
        f"synchronous all-reduce ({cluster.get('strategy')}) on {trainers} trainers with the "
        "same seed and input shards gives identical results",
    )


def cluster_mismatch(
    recorded: Mapping[str, Any] | None, rerun: Mapping[str, Any] | None
) -> str | None:
    """Return why the re-run's cluster cannot reproduce the recorded one exactly (None if it can).

    Only the shape matters (strategy, number of trainers and ps), not the addresses.
    """

    def shape(info: Mapping[str, Any] | None) -> tuple:
        if not info:
            return ("one process",)
        return (info.get("strategy"), info.get("num_trainers"), info.get("num_ps"))

    if shape(recorded) == shape(rerun):
        return None
    return (
        f"the recorded run used {_describe(recorded)}, the re-run {_describe(rerun)}: another "
        "cluster size changes the global batch and the input shards; re-run on the same shape"
    )


def _describe(info: Mapping[str, Any] | None) -> str:
    if not info:
        return "one process"
    return (
        f"strategy {info.get('strategy')!r} with {info.get('num_trainers')} trainer(s) and "
        f"{info.get('num_ps')} ps"
    )


def compare_metrics(
    recorded: Mapping[str, float], rerun: Mapping[str, float], expectation: Expectation
) -> list[MetricComparison]:
    """Compare every metric of `recorded` with `rerun` as `expectation` says (exactly or close)."""
    out = []
    for name in sorted(recorded):
        a, b = recorded.get(name), rerun.get(name)
        if a is None or b is None:
            out.append(MetricComparison(name, a, b, ok=False))
            continue
        a, b = float(a), float(b)
        if expectation.exact:
            ok = a == b or (math.isnan(a) and math.isnan(b))
            out.append(MetricComparison(name, a, b, ok))
        else:
            tolerance = tolerance_for(name, expectation.tolerances)
            out.append(MetricComparison(name, a, b, tolerance.allows(a, b), tolerance))
    return out


# ------------------------------------------------------------------ what `reproml reproduce` calls

VERDICT_EXACT = "reproduced exactly"
VERDICT_WITHIN_TOLERANCE = "reproduced within tolerance"
VERDICT_DIFFERS = "NOT reproduced"
VERDICT_NOT_COMPARABLE = "not comparable"


def recorded_distribution(info: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """Return the cluster shape a run recorded (None: one process).

    Reads ``info["cluster"]``: the chief's `reproml.cluster.distribution.cluster_info` merged
    with its ``TF_CONFIG`` (what `reproml.train.cluster_runtime` records), or the bare ``TF_CONFIG``
    of a run that recorded only that (the strategy is then the one "auto" picks: all-reduce
    without ps, parameter-server training with).
    """
    cluster = (info or {}).get("cluster")
    if not cluster:
        return None
    if "strategy" in cluster:
        return dict(cluster)
    spec = cluster.get("cluster") or {}
    trainers = sum(len(spec.get(kind, [])) for kind in ("chief", "master", "worker"))
    ps = len(spec.get("ps", []))
    strategy = "none" if ps else ("collective" if trainers > 1 else "none")
    return {
        "cluster": spec,
        "strategy": strategy,
        "synchronous": not ps,
        "num_trainers": trainers,
        "num_ps": ps,
    }


def final_metrics(metrics: Mapping[str, Any]) -> dict[str, float]:
    """Return ``{name: last value}`` of Sacred's metrics (``{name: {"values": [...]}}``).

    A mapping of plain numbers is returned as it is (as floats).
    """
    out = {}
    for name, value in metrics.items():
        if isinstance(value, Mapping):
            values = value.get("values") or []
            if not values:
                continue
            value = values[-1]
        out[name] = float(value)
    return out


def _series(metric: Any) -> tuple[list, list] | None:
    """``(steps, values)`` of a Sacred metric (not its timestamps); None for a plain number."""
    if not isinstance(metric, Mapping):
        return None
    return list(metric.get("steps") or []), list(metric.get("values") or [])


def distributed_report(
    original_info: Mapping[str, Any] | None,
    rerun_info: Mapping[str, Any] | None,
    original_metrics: Mapping[str, Any],
    rerun_metrics: Mapping[str, Any],
    tolerances: Sequence[Tolerance] | None = None,
    experiment: str | None = None,
) -> tuple[list[str], str]:
    """Compare a re-run with the recorded run as the recorded strategy allows; say how and why.

    Args:
      original_info: the recorded run's ``info`` (its ``"cluster"`` entry decides; absent: one
        process).
      rerun_info: the re-run's ``info``.
      original_metrics: the recorded run's metrics, Sacred's ``metrics.json`` form
        (``{name: {"steps": [...], "values": [...]}}``: the last values are compared, and for
        an exact comparison the whole series too) or
        ``{name: value}`` (e.g. add ``"result"``). Timing metrics are not compared.
      rerun_metrics: the re-run's, in the same form.
      tolerances: for an asynchronous job, the per-metric tolerances (default: `experiment`'s,
        `async_tolerances`; `reproml reproduce --rtol/--atol` passes one for every metric).
      experiment: the recorded experiment's name, which picks the measured tolerances.

    Returns:
      ``(lines, verdict)``: lines to print (how the runs are compared and why, the tolerance
      when there is one, then one line per metric), and one of `VERDICT_EXACT`,
      `VERDICT_WITHIN_TOLERANCE`, `VERDICT_DIFFERS` or `VERDICT_NOT_COMPARABLE` (the re-run ran
      on another cluster shape: no metric is compared).
    """
    recorded = recorded_distribution(original_info)
    rerun = recorded_distribution(rerun_info)
    mismatch = cluster_mismatch(recorded, rerun)
    if mismatch is not None:
        return [f"not comparable: {mismatch}"], VERDICT_NOT_COMPARABLE
    expectation = expectation_for(recorded, tolerances, experiment, original_info)
    original, new = final_metrics(original_metrics), final_metrics(rerun_metrics)
    timing = sorted(name for name in set(original) | set(new) if name in TIMING_METRICS)
    for name in timing:
        original.pop(name, None)
        new.pop(name, None)
    comparisons = compare_metrics(original, new, expectation)
    lines = [expectation.describe(), *(c.describe() for c in comparisons)]
    ok = all(c.ok for c in comparisons)
    if expectation.exact:  # exact means every logged value, not only the last
        for c in comparisons:
            a, b = _series(original_metrics.get(c.name)), _series(rerun_metrics.get(c.name))
            if c.ok and a is not None and b is not None and a != b:
                lines.append(f"{c.name}: final value exact, earlier values DIFFER")
                ok = False
    lines += [f"{name}: timing, not compared" for name in timing]
    if not ok:
        verdict = VERDICT_DIFFERS
    elif expectation.exact:
        verdict = VERDICT_EXACT
    else:
        verdict = VERDICT_WITHIN_TOLERANCE
        if expectation.caveat:
            lines.append(f"caveat: {expectation.caveat}")
    return lines, verdict


def relaunch(
    original_info: Mapping[str, Any],
    command: Sequence[str],
    *,
    runs_dir: str | os.PathLike | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float | None = None,
    log_dir: str | os.PathLike | None = None,
    out: IO[str] | None = None,
) -> int:
    """Re-run a recorded distributed job on a local cluster of the same shape (`launcher.launch`).

    The job gets as many trainers and ps tasks as the recorded run had, and the recorded
    strategy (``$REPROML_STRATEGY``), so `distributed_report` compares like with like. New
    addresses (127.0.0.1, free ports) do not matter: only the shape does.

    Args:
      original_info: the recorded run's ``info`` (with ``"cluster"``).
      command: the command every task runs, e.g. ``["python", "-m", "experiments.mnist",
        "with", ...]`` rebuilt from the recorded run (`rerun_command`).
      runs_dir: the file store the re-run's chief records in (``$REPROML_RUNS_DIR`` of the
        tasks); None: the environment's.
      env: the tasks' environment (default: this process's), ``REPROML_STRATEGY`` set.
      timeout: seconds before the job is stopped and fails (exit 124).
      log_dir: also write each task's output to ``log_dir/<type><index>.log``.
      out: where the tasks' prefixed lines go (default: stdout).

    Returns:
      The launcher's exit code (0: the job succeeded).

    Raises:
      ConfigError: the run recorded no cluster (re-run it as one process).
    """
    shape = recorded_distribution(original_info)
    if shape is None:
        raise ConfigError("info.cluster", "the cluster a distributed run recorded", None)
    task_env = dict(os.environ if env is None else env)
    task_env[STRATEGY_ENV] = str(shape["strategy"])
    if runs_dir is not None:
        task_env["REPROML_RUNS_DIR"] = os.fspath(runs_dir)
    return launch(
        list(command),
        int(shape["num_trainers"]),
        int(shape["num_ps"]),
        timeout=timeout,
        log_dir=log_dir,
        env=task_env,
        out=out,
    )


def rerun_command(
    module: str,
    config: Mapping[str, Any],
    config_file: str | os.PathLike,
    *,
    command_name: str | None = None,
    python: str | None = None,
) -> list[str]:
    """Return the command every task of a re-run runs: the recorded config (seed included).

    Writes `config` (the run's recorded ``config.json``) to `config_file`, which Sacred's
    ``with FILE.json`` applies as it is: ``python -m MODULE [COMMAND] with FILE.json``
    (`relaunch` chooses the store with ``$REPROML_RUNS_DIR``).

    Args:
      module: the experiment's module, e.g. ``experiments.mnist``, or its ``.py`` file.
      config: the recorded config (with ``seed``).
      config_file: where to write it (every task must read it: a shared path on a cluster).
      command_name: the recorded command (None or "main": the main function).
      python: the interpreter (default: this one).
    """
    path = os.fspath(config_file)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(dict(config), f, indent=2, sort_keys=True)
    command = experiment_command(module, python or sys.executable)
    if command_name and command_name != "main":
        command.append(command_name)
    return [*command, "with", path]
