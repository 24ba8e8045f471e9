"""`reproml reproduce RUN`: re-run a run the way it was started, compare, print the verdict.

The checks and what "reproduced" means are `reproml.runs.reproduce` (and, for a distributed
job, `reproml.runs.reproducibility`); the re-run is `reproml.tracking.rerun`. This command
parses the arguments, runs them in order and prints the report; it exits 0 when every metric
reproduced exactly (or, for an asynchronous job, within tolerance), else 1.
"""

from __future__ import annotations

import argparse
import math
import sys

from reproml.cli.table import render_table
from reproml.errors import CliError
from reproml.runs import reproduce as reproducing
from reproml.runs.lineage import lineage_problems
from reproml.runs.reproducibility import Tolerance, expectation_for, recorded_distribution
from reproml.runs.started import describe, started_of
from reproml.runs.stores import open_store
from reproml.sacred_internals import captures_entry
from reproml.tracking.rerun import rerun


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register `reproduce`."""
    parser = subparsers.add_parser("reproduce", help="re-run a run and check it reproduces")
    parser.add_argument("run_id", metavar="RUN", help="run id")
    parser.add_argument(
        "--force", action="store_true", help="run even if the records or the code differ"
    )
    parser.add_argument(
        "--repo",
        default=None,
        help="git checkout holding the code (default: the one the run recorded)",
    )
    parser.add_argument(
        "--rtol",
        type=float,
        default=None,
        help="asynchronous parameter-server job: relative tolerance for every metric "
        "(default: the measured per-metric table; see docs/distributed.md)",
    )
    parser.add_argument(
        "--atol",
        type=float,
        default=None,
        help="asynchronous parameter-server job: absolute tolerance for every metric",
    )
    parser.set_defaults(func=run)


def tolerances_from(args: argparse.Namespace) -> list | None:
    """Return one tolerance for every metric from ``--rtol``/``--atol`` (None: the table).

    Raises:
      CliError: a negative or non-finite value.
    """
    rtol, atol = getattr(args, "rtol", None), getattr(args, "atol", None)
    if rtol is None and atol is None:
        return None
    for flag, value in (("--rtol", rtol), ("--atol", atol)):
        if value is not None and not (math.isfinite(value) and value >= 0):
            raise CliError(f"{flag} must be a finite number >= 0, got {value}")
    return [Tolerance("*", rtol or 0.0, atol or 0.0, measured="")]


def run(args: argparse.Namespace) -> int:
    """Check, re-run and reports; returns 0 if every metric reproduced exactly, else 1."""
    store = open_store(args)
    original = store.get_run(args.run_id)
    reproducing.refuse_tampered(original, store)
    tolerances = tolerances_from(args)
    if tolerances is not None:
        expectation = expectation_for(recorded_distribution(original.info))
        if expectation.exact:
            raise CliError(
                f"--rtol/--atol apply to asynchronous parameter-server jobs only; run "
                f"{original.run_id} is {expectation.describe()}"
            )
    repo = reproducing.recorded_repo(original, args.repo)
    problems = (
        reproducing.dataset_problems(original)
        + reproducing.weights_problems(original)
        + lineage_problems(original)
        + reproducing.kernels_problems(original)
    )
    problems += reproducing.code_problems(original, store, repo)
    ex = reproducing.experiment_loader(original, repo)
    problems += reproducing.imported_elsewhere(repo, (original.code.get("files") or {}).keys())
    if problems and not args.force:
        raise CliError(
            f"refusing to reproduce run {original.run_id}: {'; '.join(problems)} "
            f"(checked the checkout {repo}; pass --force to run anyway)"
        )
    for problem in problems:
        print(f"warning: --force: {problem}", file=sys.stderr)
    kernels_entry = captures_entry(ex, reproducing.CPU_KERNELS_ENTRY)
    if recorded_distribution(original.info) is not None:
        return reproducing.reproduce_distributed(
            original, store, repo, tolerances, kernels_entry=kernels_entry, force=args.force
        )
    up_to = reproducing.reached_step(original)
    if up_to is not None:
        print(
            f"run {original.run_id} is {original.status}: it stopped at step {up_to} (its config "
            f"says steps={original.config.get('steps')}); re-running to step {up_to} and "
            "comparing the steps it logged"
        )
    new = rerun(original, store, ex, up_to, repo, force=args.force)
    rows, exact = reproducing.metric_report(original, new, interrupted=up_to is not None)
    kernels_line, same_kernels = reproducing.kernels_report(original, new)
    exact &= same_kernels
    print(
        f"re-ran run {original.run_id} ({original.experiment}, seed {original.seed}) "
        f"as run {new.run_id}"
    )
    started = started_of(original.info, original.experiment)
    how = "checkout" if original.code.get("commit") else "directory (no git; sources by sha256)"
    print(f"code: the {how} {repo}")
    print(f"started: {describe(started)} in {started.get('cwd', '.')}")
    overrides = new.info.get(reproducing.OVERRIDES_INFO) or {}
    model_dir = reproducing.MODEL_DIR_ENTRY
    if model_dir in overrides:
        print(
            f"model_dir: the re-run trained in {new.info.get(model_dir, 'its own run dir')} "
            f"(run {original.run_id}'s {overrides[model_dir]} was not read nor written)"
        )
    kernels = reproducing.CPU_KERNELS_ENTRY
    if kernels in overrides:
        had = original.config[kernels] if kernels in original.config else "no such entry"
        ran = original.info.get(reproducing.CPU_KERNELS_INFO) or "kernels it did not record"
        print(
            f"cpu_kernels: the re-run declared {new.config.get(kernels)} (run "
            f"{original.run_id}'s config: {had}; it ran {ran})"
        )
    resumed = original.info.get("resumed_from_step")
    if resumed:
        print(
            f"note: run {original.run_id} resumed from step {resumed} of the checkpoints in "
            f"{original.info.get(model_dir)}; the re-run trains from step 0, so a series that "
            "differs may be that resumption, not the code"
        )
    print(render_table(("metric", f"run {original.run_id}", f"run {new.run_id}", "verdict"), rows))
    print(reproducing.environment_line(original, new, store))
    if kernels_line:
        print(kernels_line)
    what = f"up to step {up_to}" if up_to is not None else ""
    if exact:
        print(f"run {original.run_id} reproduced exactly" + (f" {what}" if what else ""))
        return 0
    print(f"run {original.run_id} did NOT reproduce exactly" + (f" {what}" if what else ""))
    return reproducing.EXIT_DIFFERS
