"""Warm-start lineage between runs: ``info["lineage"]`` of a run started from another run.

A run trained with ``init_from=<run id>`` records ``info["lineage"] = {"parent": id,
"checkpoint": path}`` (`reproml.tracking.warm_start`). `parent_of` reads it, `children_of`
finds the runs started from a run (so ``rm`` names them), and `lineage_problems` says when a
re-run cannot start as the original did (the parent's checkpoint is gone).

A run recording into MongoDB finds its parent there, and its lineage also says ``"store":
"MongoDB host:port/db"``. The same run's copy in the file store (every run is recorded there
too, numbered by the file store) keeps that lineage, whose id is not a file-store id: there
`parent_of` names the parent with its store ("3 in MongoDB host:port/db"), so no file-store
run of that number is taken for the parent.

Ids name a parent only within one store, but the checkpoint a child started from is a path:
`warm_start_children` also finds, in any store, the runs whose lineage checkpoint lies in a
directory the parent owns (its run directory, ``model_dir``, ``export_dir``:
`reproml.runs.dependents.owned_dirs`). So a MongoDB child of a parent whose checkpoint is in
the file store's ``<store>/<id>/model`` is found by its file-store copy, and in MongoDB when
``reproml rm --children-in URL`` names it.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from reproml.runs.dependents import owned_dirs
from reproml.runs.record import RunRecord

LINEAGE_KEY = "lineage"
# How a lineage names a MongoDB parent's store: "MongoDB host:port/db".
MONGO_STORE_PREFIX = "MongoDB "


def parent_of(run: RunRecord) -> str | None:
    """The id of the run `run` was warm-started from, or None.

    A MongoDB parent seen from a record outside MongoDB (the run's file-store copy) is named
    with its store: ``"3 in MongoDB host:port/db"``.
    """
    lineage = run.info.get(LINEAGE_KEY)
    parent = lineage.get("parent") if isinstance(lineage, dict) else None
    if parent is None:
        return None
    store = lineage.get("store")
    is_mongo_record = isinstance(run.raw, dict) and "_id" in run.raw
    if isinstance(store, str) and store.startswith(MONGO_STORE_PREFIX) and not is_mongo_record:
        return f"{parent} in {store}"
    return str(parent)


def children_of(runs: Iterable[RunRecord], run_id: str) -> list[str]:
    """The ids of the runs in `runs` warm-started from run `run_id`."""
    return [run.run_id for run in runs if parent_of(run) == str(run_id)]


def warm_start_children(
    parent: RunRecord, runs: Iterable[RunRecord], same_store: bool = True
) -> list[str]:
    """The ids of the runs in `runs` warm-started from `parent`.

    A run is a child when its lineage names `parent` by id (only when `runs` are of `parent`'s
    store: `same_store`) or its lineage checkpoint lies in a directory `parent` owns.
    """
    owned = owned_dirs(parent)
    found = []
    for run in runs:
        if same_store and run.run_id == parent.run_id:
            continue
        lineage = run.info.get(LINEAGE_KEY)
        if not isinstance(lineage, dict):
            continue
        if same_store and parent_of(run) == str(parent.run_id):
            found.append(run.run_id)
            continue
        checkpoint = lineage.get("checkpoint")
        if not isinstance(checkpoint, str) or not checkpoint:
            continue
        path = Path(checkpoint).expanduser().resolve()
        if any(path == mine or path.is_relative_to(mine) for mine in owned):
            found.append(run.run_id)
    return found


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
