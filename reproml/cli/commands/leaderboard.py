"""`reproml leaderboard`: one row per run — data, model, hyperparameters, results, commit.

Columns come from the run info keys, config keys and ``eval.*`` metrics fixed in
``docs/architecture.md``; a missing value shows as ``-`` and sorts last. ``params`` and
``size_mb`` (SavedModel, else checkpoint) come from ``info["model_summary"]``; accuracy,
precision and recall are those of the checkpoint the run reports (``info["best_checkpoint"]``,
step ``best_step``), else the last evaluation's.

GAN scores (``frechet``, ``mnist_score``) are only comparable between runs scored by the same
evaluation classifier over the same number of samples (``info["evaluator"]``, shown in the
``evaluator`` column as ``<fingerprint[:8]>/N<samples>``). Sorting by a GAN score never ranks
runs of different evaluators together: they are sorted within each evaluator group, and one
line names the groups.
"""

from __future__ import annotations

import argparse
import numbers
from collections.abc import Callable
from typing import Any

from reproml.cli.seal_marks import marked_status, seal_checks, tampered_lines
from reproml.cli.table import render_table, write_csv
from reproml.errors import CliError
from reproml.runs.annotations import tags_of
from reproml.runs.lineage import parent_of
from reproml.runs.record import RunRecord
from reproml.runs.stores import filter_runs, list_runs_warning, open_store

SHORT_HASH = 8


def _short(value: Any, n: int = SHORT_HASH) -> Any:
    return value[:n] if isinstance(value, str) else value


def _commit(run: RunRecord) -> str | None:
    commit = run.code.get("commit")
    if not commit:
        return None
    return _short(commit) + ("+dirty" if run.code.get("dirty") else "")


def _reported(run: RunRecord, name: str) -> Any:
    """The value of eval metric `name` the run reports: its best checkpoint's, else the last."""
    best = run.info.get("best_checkpoint")
    if isinstance(best, dict) and name in (best.get("metrics") or {}):
        return best["metrics"][name]
    return run.final_metric(f"eval.{name}")


def _summary(run: RunRecord, key: str) -> Any:
    summary = run.info.get("model_summary")
    return summary.get(key) if isinstance(summary, dict) else None


def _size_mb(run: RunRecord) -> float | None:
    size = _summary(run, "saved_model_bytes") or _summary(run, "checkpoint_bytes")
    return None if size is None else round(size / 1e6, 3)


def _best_step(run: RunRecord) -> Any:
    best = run.info.get("best_checkpoint")
    return best.get("step") if isinstance(best, dict) else None


def _drifted(run: RunRecord) -> str | None:
    """``flagged/windows`` of a drift run (``info["drift"]``), else None."""
    drift = run.info.get("drift")
    if not isinstance(drift, dict) or "num_windows" not in drift:
        return None
    return f"{len(drift.get('flagged_windows') or [])}/{drift['num_windows']}"


def evaluator_key(run: RunRecord) -> str | None:
    """``<evaluator fingerprint[:8]>/N<samples>`` of a run scored by a fixed evaluator, else None."""
    evaluator = run.info.get("evaluator")
    if not isinstance(evaluator, dict) or not evaluator.get("fingerprint"):
        return None
    return f"{_short(evaluator['fingerprint'])}/N{evaluator.get('num_samples')}"


def next_to_monitored(rows: list[list[Any]]) -> list[list[Any]]:
    """Move every drift run's row right after the row of the run it monitors (when listed).

    Drift runs of one training run keep their order; other rows keep the sorted order.
    """
    ids, monitors = HEADERS.index("id"), HEADERS.index("monitors")
    listed = {str(row[ids]) for row in rows}
    followers: dict[str, list[list[Any]]] = {}
    for row in rows:
        if row[monitors] is not None and str(row[monitors]) in listed:
            followers.setdefault(str(row[monitors]), []).append(row)
    moved = {id(row) for group in followers.values() for row in group}
    ordered: list[list[Any]] = []
    for row in rows:
        if id(row) not in moved:
            ordered += [row, *followers.get(str(row[ids]), [])]
    return ordered


# (column name, how to read it from a run), in display order.
COLUMNS: tuple[tuple[str, Callable[[RunRecord], Any]], ...] = (
    ("id", lambda r: r.run_id),
    ("experiment", lambda r: r.experiment),
    ("status", lambda r: r.shown_status),
    ("dataset", lambda r: r.dataset.get("name")),
    ("fingerprint", lambda r: _short(r.dataset.get("fingerprint"))),
    ("model", lambda r: r.model),
    ("params", lambda r: _summary(r, "parameters")),
    ("size_mb", _size_mb),
    ("lr", lambda r: r.config.get("lr")),
    ("optimizer", lambda r: r.config.get("optimizer")),
    ("batch", lambda r: r.config.get("batch_size")),
    ("steps", lambda r: r.config.get("steps")),
    ("best_step", _best_step),
    ("accuracy", lambda r: _reported(r, "accuracy")),
    ("precision", lambda r: _reported(r, "mean_precision")),
    ("recall", lambda r: _reported(r, "mean_recall")),
    ("frechet", lambda r: r.final_metric("eval.frechet_distance")),
    ("mnist_score", lambda r: r.final_metric("eval.mnist_score")),
    ("evaluator", evaluator_key),
    ("duration", lambda r: r.duration),
    ("commit", _commit),
    ("tags", lambda r: ",".join(tags_of(r)) or None),
    ("monitors", lambda r: r.info.get("monitors")),
    ("parent", parent_of),
    ("drifted", lambda r: _drifted(r)),
)
HEADERS = tuple(name for name, _ in COLUMNS)
GAN_SCORE_COLUMNS = ("frechet", "mnist_score")  # comparable only within one evaluator


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
    parser.add_argument("--tag", action="append", default=[], help="only runs with this tag")
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


def sort_within_evaluators(
    rows: list[list[Any]], column: str, descending: bool = False
) -> tuple[list[list[Any]], str | None]:
    """Sort rows by a GAN score `column` within each evaluator group, never across groups.

    Returns:
      (the rows: groups in order of first appearance, each sorted by `sort_rows`; rows without
      the score last), and a one-line note naming the groups when there is more than one (else
      None). Runs with a score but no recorded evaluator form their own group ("none").
    """
    index, key_index = HEADERS.index(column.lower()), HEADERS.index("evaluator")
    scored = [r for r in rows if r[index] is not None]
    groups: dict[str, list[list[Any]]] = {}
    for row in scored:
        groups.setdefault(str(row[key_index] or "none"), []).append(row)
    ordered = [r for group in groups.values() for r in sort_rows(group, column, descending)]
    ordered += [r for r in rows if r[index] is None]
    if len(groups) < 2:
        return ordered, None
    note = (
        f"{column}: not comparable across evaluators {', '.join(groups)}: "
        "sorted within each evaluator group, never across"
    )
    return ordered, note


def run(args: argparse.Namespace) -> int:
    """Print the leaderboard (and writes the CSV); returns 0."""
    store = open_store(args)
    runs = filter_runs(list_runs_warning(store), args.experiment, args.status)
    runs = [r for r in runs if set(args.tag) <= set(tags_of(r))]
    if not runs:
        raise CliError(f"no runs match --experiment {args.experiment!r} --status {args.status!r}")
    checks = seal_checks(store, runs)
    rows = leaderboard_rows(runs)
    status = HEADERS.index("status")
    for row, r in zip(rows, runs, strict=True):
        row[status] = marked_status(r, checks.get(r.run_id))
    rows = sort_rows(rows, args.sort, args.desc)
    note = None
    if args.sort.lower() in GAN_SCORE_COLUMNS:
        rows, note = sort_within_evaluators(rows, args.sort, args.desc)
    rows = next_to_monitored(rows)
    if note:
        print(note)
    print(render_table(HEADERS, rows))
    for line in tampered_lines(checks, [str(row[HEADERS.index("id")]) for row in rows]):
        print(line)
    if args.csv:
        write_csv(args.csv, HEADERS, rows)
    return 0
