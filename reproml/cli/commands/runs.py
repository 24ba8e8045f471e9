"""`reproml runs`: one line per run — id, experiment, status, start, duration, result, tags.

A run whose record no longer matches its seal is listed with status ``COMPLETED!`` and one
``! run N: TAMPERED: ...`` line under the table (`reproml.cli.seal_marks`).
"""

from __future__ import annotations

import argparse

from reproml.cli.seal_marks import marked_status, seal_checks, tampered_lines
from reproml.cli.table import format_duration, format_time, render_table
from reproml.runs.annotations import tags_of
from reproml.runs.stores import filter_runs, list_runs_warning, open_store

HEADERS = ("id", "experiment", "status", "start", "duration", "result", "tags")


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register `runs`."""
    parser = subparsers.add_parser("runs", help="list the runs, one line each")
    parser.add_argument("--experiment", help="only runs of this experiment")
    parser.add_argument("--status", help="only runs with this status (COMPLETED, FAILED, ...)")
    parser.add_argument(
        "--tag", action="append", default=[], help="only runs with this tag (repeat: all of them)"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Print the run table; returns 0."""
    store = open_store(args)
    runs = filter_runs(list_runs_warning(store), args.experiment, args.status)
    runs = [r for r in runs if set(args.tag) <= set(tags_of(r))]
    checks = seal_checks(store, runs)
    rows = [
        (
            r.run_id,
            r.experiment,
            marked_status(r, checks.get(r.run_id)),
            format_time(r.start_time),
            format_duration(r.duration),
            r.result,
            ",".join(tags_of(r)) or None,
        )
        for r in runs
    ]
    print(render_table(HEADERS, rows))
    for line in tampered_lines(checks, [r.run_id for r in runs]):
        print(line)
    return 0
