"""How a re-run of a distributed job is compared with the recorded run, stated per strategy.

* One process, or synchronous all-reduce (``collective``, MultiWorkerMirroredStrategy) with the
  same number of trainers: same seed, same input shards, same reduction order -> the same
  numbers. Compared exactly. A different cluster size changes the global batch and the shards:
  that is another experiment, and the comparison says so instead of comparing.
* Asynchronous parameter-server training (ps tasks): each worker's gradients are applied in the
  order they reach the ps, which depends on timing, so no two runs are bit-identical. Compared
  within a tolerance that is printed with the result; never reported as "NOT reproduced" for
  differences inside it.

`reproml reproduce` calls `expectation_for(recorded cluster info)` then `compare_metrics`.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

# Async PS: relative and absolute tolerance on final metrics. A stated default, not a law: the
# spread between two async runs grows with the number of workers and the learning rate; a metric
# that moves by more than this is treated as a different result, not timing noise.
ASYNC_RTOL = 0.10
ASYNC_ATOL = 0.02


@dataclasses.dataclass(frozen=True)
class Expectation:
    """What a faithful re-run gives: identical numbers, or numbers within a tolerance, and why."""

    exact: bool
    reason: str
    rtol: float = 0.0
    atol: float = 0.0

    def describe(self) -> str:
        """One line for the user: how metrics are compared and why."""
        if self.exact:
            return f"compared exactly: {self.reason}"
        return f"compared within rtol={self.rtol:g}, atol={self.atol:g}: {self.reason}"


@dataclasses.dataclass(frozen=True)
class MetricComparison:
    """One metric of the recorded run against the re-run."""

    name: str
    recorded: float | None
    rerun: float | None
    ok: bool

    def describe(self) -> str:
        """``name: recorded vs re-run (difference) ok|DIFFERS``."""
        if self.recorded is None or self.rerun is None:
            return f"{self.name}: recorded {self.recorded}, re-run {self.rerun}  MISSING"
        diff = abs(self.recorded - self.rerun)
        verdict = "ok" if self.ok else "DIFFERS"
        return f"{self.name}: {self.recorded!r} vs {self.rerun!r} (|diff| {diff:.3g})  {verdict}"


def expectation_for(cluster: Mapping[str, Any] | None) -> Expectation:
    """Return how a re-run of a job with this recorded cluster info is compared.

    Args:
      cluster: the run's recorded `reproml.cluster.distribution.cluster_info` (None: one process).
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
            rtol=ASYNC_RTOL,
            atol=ASYNC_ATOL,
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
        else:
            ok = math.isclose(a, b, rel_tol=expectation.rtol, abs_tol=expectation.atol)
        out.append(MetricComparison(name, a, b, ok))
    return out
