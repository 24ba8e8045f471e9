"""`reproml leaderboard`: one row per run — data, model, hyperparameters, results, commit.

Columns come from the run info keys, config keys and ``eval.*`` metrics fixed in
``docs/architecture.md``; a missing value shows as ``-`` and sorts last.
"""

from __future__ import annotations

import argparse
import numbers
from collections.abc import Callable
from typing import Any

from reproml.cli.table import render_table, write_csv
from reproml.runs.record import CliError, RunRecord
from reproml.runs.stores import filter_runs, list_runs_warning, open_store

SHORT_HASH = 8


def _short(value: Any, n: int = SHORT_HASH) -> Any:
    return value[:n] if isinstance(value, str) else value


def _commit(run: RunRecord) -> str | None:
    commit = run.code.get("commit")
    if not commit:
        return None
    return _short(commit) + ("+dirty" if run.code.get("dirty") else "")


# (column name, how to read it from a run), in display order.
COLUMNS: tuple[tuple[str, Callable[[RunRecord], Any]], ...] = (
    ("id", lambda r: r.run_id),
    ("experiment", lambda r: r.experiment),
    ("status", lambda r: r.shown_status),
    ("dataset", lambda r: r.dataset.get("name")),
    ("fingerprint", lambda r: _short(r.dataset.get("fingerprint"))),
    ("model", lambda r: r.model),
    ("lr", lambda r: r.config.get("lr")),
    ("optimizer", lambda r: r.config.get("optimizer")),
    ("batch", lambda r: r.config.get("batch_size")),
    ("steps", lambda r: r.config.get("steps")),
    ("accuracy", lambda r: r.final_metric("eval.accuracy")),
    ("precision", lambda r: r.final_metric("eval.mean_precision")),
    ("recall", lambda r: r.final_metric("eval.mean_recall")),
    ("frechet", lambda r: r.final_metric("eval.frechet_distance")),
    ("duration", lambda r: r.duration),
    ("commit", _commit),
)
HEADERS = tuple(name for name, _ in COLUMNS)


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register `leaderboard`."""
    parser = subparsers.add_parser("leaderboard", help="compare all runs in one table")
    parser.add_argument(
        "--sort", default="id", metavar="COLUMN", help=f"sort by one of: {', '.join(HEADERS)}"
    )
    parser.add_argument("--desc", action="store_true", help="sort in descending order")
    parser.add_argument("--experiment", help="only runs of this experiment")
    parser.add_argument("--status", help="only runs with this status (COMPLETED, FAILED, ...)")
    parser.add_argument("--csv", metavar="FILE", help="also write the table to FILE as CSV")
    parser.set_defaults(func=run)


def leaderboard_rows(runs: list[RunRecord]) -> list[list[Any]]:
    """Return one row per run, values in `HEADERS` order."""
    return [[read(run) for _, read in COLUMNS] for run in runs]


def sort_rows(rows: list[list[Any]], column: str, descending: bool = False) -> list[list[Any]]:
    """Sort rows by `column` (numbers numerically, text alphabetically); missing values last.

    Raises:
      CliError: `column` is not a leaderboard column.
    """
    if column.lower() not in HEADERS:
        raise CliError(f"--sort {column!r} is not a column; expected one of {', '.join(HEADERS)}")
    index = HEADERS.index(column.lower())

    def key(row: list[Any]) -> tuple:
        value = row[index]
        if column.lower() == "id" and str(value).isdigit():
            return (0, int(value), "")
        if isinstance(value, numbers.Number) and not isinstance(value, bool):
            return (0, value, "")
        if hasattr(value, "total_seconds"):
            return (0, value.total_seconds(), "")
        return (1, 0, str(value))

    present = [r for r in rows if r[index] is not None]
    missing = [r for r in rows if r[index] is None]
    return sorted(present, key=key, reverse=descending) + missing


def run(args: argparse.Namespace) -> int:
    """Print the leaderboard (and writes the CSV); returns 0."""
    runs = filter_runs(list_runs_warning(open_store(args)), args.experiment, args.status)
    if not runs:
        raise CliError(f"no runs match --experiment {args.experiment!r} --status {args.status!r}")
    rows = sort_rows(leaderboard_rows(runs), args.sort, args.desc)
    print(render_table(HEADERS, rows))
    if args.csv:
        write_csv(args.csv, HEADERS, rows)
    return 0
