r"""`reproml sweep`: search hyperparameters with Optuna, every trial an ordinary tracked run.

    reproml sweep experiments.mnist quick lr=loguniform(1e-4,1e-2) dropout=0.2,0.4 \
        --trials 20 --workers 2 [--sampler tpe|random|grid] [--pruner median|none]
        [--metric accuracy --direction maximize] [--id ID] [--storage URL]
    reproml sweep resume ID      # after Ctrl-C or a crash: finished trials are not repeated
    reproml sweep show ID        # trials ranked, and sweeps/ID/parallel_coordinates.png

Every trial runs ``python -m EXPERIMENT with ...`` (``python FILE with ...`` for a ``.py`` file) and is recorded like any run (``--store``,
and MongoDB with REPROML_MONGO_URL), tagged ``sweep:<ID>``: ``reproml runs --tag sweep:ID``.
See docs/sweeps.md.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from reproml.cli.table import render_table
from reproml.errors import CliError
from reproml.runs.started import is_file_target
from reproml.sweep import study as studies
from reproml.sweep.report import ranked_rows, save_parallel_coordinates
from reproml.sweep.runner import (
    AUTO_PREPARE,
    experiment_commands,
    finished_trials,
    prepare,
    run_sweep,
)
from reproml.sweep.space import parse_space

EXIT_INTERRUPTED = 130


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register `sweep`."""
    parser = subparsers.add_parser(
        "sweep",
        help="search hyperparameters (Optuna); `sweep resume ID`, `sweep show ID`",
        description=__doc__.split("\n\n")[0],
    )
    parser.add_argument(
        "target",
        metavar="EXPERIMENT|resume|show",
        help="experiment module (experiments.mnist) or file (path/to/exp.py), or resume/show",
    )
    parser.add_argument(
        "words",
        nargs="*",
        metavar="PARAM",
        help="NAME=loguniform(a,b) | uniform(a,b) | int(a,b) | v1,v2,... | value, or a named "
        "config; for resume/show: the sweep id",
    )
    parser.add_argument("--trials", type=int, default=20, help="finished trials to end with")
    parser.add_argument("--workers", type=int, default=1, help="trials run at the same time")
    parser.add_argument("--sampler", default="tpe", help="tpe (default), random or grid")
    parser.add_argument("--pruner", default="median", help="median (default) or none")
    parser.add_argument("--metric", default="accuracy", help="eval metric to optimize")
    parser.add_argument("--direction", default="maximize", help="maximize or minimize")
    parser.add_argument("--seed", type=int, default=0, help="the sampler's seed")
    parser.add_argument("--id", dest="sweep_id", help="the sweep's id (default: experiment-time)")
    parser.add_argument(
        "--storage",
        help="Optuna storage URL to share the sweep (default: a journal file sweeps/ID.journal)",
    )
    parser.add_argument("--sweeps-dir", default="sweeps", help="journals, logs and plots")
    parser.add_argument(
        "--prepare",
        default=None,
        metavar="COMMAND",
        help="experiment command run once before the trials (default: serialize when the "
        "experiment has that command, else none; '' for none)",
    )
    parser.add_argument("--png", help="show: where to write the plot")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Start, resume or show a sweep; returns 0 (130 after Ctrl-C)."""
    if args.target in ("show", "resume"):
        if len(args.words) != 1:
            raise CliError(f"sweep {args.target}: expected one sweep id, got {args.words}")
        sweep_id = args.words[0]
        location = studies.storage_location(sweep_id, args.storage, args.sweeps_dir)
        spec, study = studies.load_sweep(sweep_id, location)
        if args.target == "show":
            return show(args, spec, study)
        return execute(args, spec, study, location)
    if args.workers < 1:
        raise CliError(f"--workers {args.workers}: expected an int >= 1")

    parse_space(args.words)  # refuse a bad space before anything is stored
    experiment = args.target
    if is_file_target(experiment):  # trials run it by its absolute path, from any directory
        if not Path(experiment).is_file():
            raise CliError(f"sweep: the experiment file {experiment} does not exist")
        experiment = str(Path(experiment).resolve())
    store = os.environ.get("REPROML_RUNS_DIR") or (args.store or "runs")
    spec = studies.SweepSpec(
        sweep_id=args.sweep_id or studies.new_sweep_id(experiment),
        experiment=experiment,
        words=list(args.words),
        trials=args.trials,
        metric=args.metric,
        direction=args.direction,
        sampler=args.sampler,
        pruner=args.pruner,
        seed=args.seed,
        runs_dir=str(Path(store).resolve()),
    )
    spec.check()
    location = studies.storage_location(spec.sweep_id, args.storage, args.sweeps_dir)
    study = studies.create_or_resume(spec, location)
    return execute(args, spec, study, location)


def execute(args: argparse.Namespace, spec, study, location: str) -> int:  # noqa: ANN001
    """Run the sweep's remaining trials and print the ranking."""
    if args.workers < 1:
        raise CliError(f"--workers {args.workers}: expected an int >= 1")
    logs = Path(args.sweeps_dir) / spec.sweep_id
    print(
        f"sweep {spec.sweep_id}: {spec.trials} trials of {spec.experiment}, {args.workers} at a "
        f"time, {spec.sampler} sampler, {spec.pruner} pruner, {spec.direction} {spec.metric}; "
        f"study in {location}; logs in {logs}/",
        flush=True,
    )
    try:
        remaining = spec.trials - len(finished_trials(study))
        command = args.prepare
        if command is None and remaining > 0:
            command = AUTO_PREPARE if AUTO_PREPARE in experiment_commands(spec.experiment) else ""
        if command and remaining > 0:
            prepare(spec, logs, command)
        run_sweep(spec, study, location, args.workers, logs)
    except KeyboardInterrupt:
        done = len(finished_trials(study))
        print(
            f"sweep {spec.sweep_id} interrupted: {done} of {spec.trials} trials finished; "
            f"resume with `reproml sweep resume {spec.sweep_id}`",
            flush=True,
        )
        return EXIT_INTERRUPTED
    return show(args, spec, study, plot=True)


def show(args: argparse.Namespace, spec, study, plot: bool = True) -> int:  # noqa: ANN001
    """Print the ranked trials and write the parallel-coordinates PNG."""
    from optuna.trial import TrialState

    headers, rows = ranked_rows(spec, study)
    done = len(finished_trials(study))
    print(
        f"sweep {spec.sweep_id}: {done} of {spec.trials} trials finished ({spec.direction} {spec.metric})"
    )
    print(render_table(headers, rows))
    if plot and study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        png = args.png or Path(args.sweeps_dir) / spec.sweep_id / "parallel_coordinates.png"
        print(f"parallel coordinates: {save_parallel_coordinates(spec, study, png)}")
    return 0
