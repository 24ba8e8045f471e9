"""Warm-start lineage between runs: ``info["lineage"]`` of a run started from another run.

A run trained with ``init_from=<run id>`` records ``info["lineage"] = {"parent": id,
"checkpoint": path}`` (`reproml.tracking.warm_start`). `parent_of` reads it, `children_of`
finds the runs started from a run (so ``rm`` names them), and `lineage_problems` says when a
re-run cannot start as the original did (the parent's checkpoint is gone).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from reproml.runs.record import RunRecord

LINEAGE_KEY = "lineage"


def parent_of(run: RunRecord) -> str | None:
    """The id of the run `run` was warm-started from, or None."""
    lineage = run.info.get(LINEAGE_KEY)
    parent = lineage.get("parent") if isinstance(lineage, dict) else None
    return None if parent is None else str(parent)


def children_of(runs: Iterable[RunRecord], run_id: str) -> list[str]:
    """The ids of the runs in `runs` warm-started from run `run_id`."""
    return [run.run_id for run in runs if parent_of(run) == str(run_id)]


def lineage_problems(run: RunRecord) -> list[str]:
    """Why `run` cannot be re-run as it ran: its parent's checkpoint files are missing."""
    parent = parent_of(run)
    if parent is None:
        return []
    checkpoint = str(run.info[LINEAGE_KEY].get("checkpoint") or "")
    if not checkpoint or not Path(checkpoint + ".index").is_file():
        return [
            f"it was warm-started from run {parent}, whose checkpoint {checkpoint or '(none)'} "
            "is missing (the re-run needs the parent's files)"
        ]
    return []
