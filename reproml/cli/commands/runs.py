"""`reproml runs`: one line per run — id, experiment, status, start, duration, result, tags."""

from __future__ import annotations

import argparse

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
    runs = filter_runs(list_runs_warning(open_store(args)), args.experiment, args.status)
    runs = [r for r in runs if set(args.tag) <= set(tags_of(r))]
    rows = [
        (
            r.run_id,
            r.experiment,
            r.shown_status,
            format_time(r.start_time),
            format_duration(r.duration),
            r.result,
            ",".join(tags_of(r)) or None,
        )
        for r in runs
    ]
    print(render_table(HEADERS, rows))
    return 0
