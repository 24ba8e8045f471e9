"""Delete a stored run with its artifacts, on either store, never touching what runs share.

File store: the run directory (``run.json``, ``config.json``, ``info.json``, ``metrics.json``,
``cout.txt``, ``omniboard.json``, the artifacts and whatever else the run wrote inside it, such as
its ``model/`` directory). It is first renamed to a hidden ``.deleting-<id>-...`` name in the same
store, so listings lose the run at once and a deletion killed half-way never leaves a half-run
behind under its id; the renamed directory is then removed. ``_sources/`` and ``_resources/`` are
kept: other runs refer to the same copies.

MongoDB: the ``runs`` document, its ``metrics`` documents and its artifact files in GridFS
(`reproml.runs.push.delete_run`); sources are stored once per content and shared, so they stay.

A run that says RUNNING and still beats (not PROBABLY_DEAD) is refused: its observer would keep
writing the record being deleted.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import uuid
from pathlib import Path
from typing import Any

from reproml.runs.annotations import is_mongo_run
from reproml.runs.record import RunRecord
from reproml.errors import CliError
from reproml.runs.push import delete_run


@dataclasses.dataclass(frozen=True)
class Deleted:
    """What deleting one run removed (for the one line the command prints).

    Attributes:
      run_id: the id the run had.
      removed: what went, e.g. ``"14 files, 3.2 MB"`` or ``"document, 4 metrics, 7 artifacts"``.
      left: paths the run recorded outside the store, left in place (e.g. a ``model_dir``).
    """

    run_id: str
    removed: str
    left: tuple[str, ...] = ()


def describe(run: RunRecord) -> str:
    """Return ``run N (experiment, status, start)``: how a prompt or a message names a run."""
    start = run.start_time.strftime("%Y-%m-%d %H:%M:%S") if run.start_time else "never started"
    return f"run {run.run_id} ({run.experiment}, {run.shown_status}, {start})"


def check_deletable(run: RunRecord) -> None:
    """Refuse a run that is still running.

    Raises:
      CliError: the run says RUNNING and its heartbeat is recent (not PROBABLY_DEAD).
    """
    if run.status == "RUNNING" and not run.probably_dead():
        raise CliError(
            f"{describe(run)} is still running (its heartbeat is recent): stop it first, "
            "or wait until `reproml runs` shows it PROBABLY_DEAD"
        )


def delete_stored_run(store: Any, run: RunRecord) -> Deleted:
    """Delete `run` from `store` (a `FileStore` or a `MongoStore`; see the module docstring).

    Raises:
      CliError: the run is still running (`check_deletable`).
    """
    check_deletable(run)
    if is_mongo_run(run):
        return _delete_mongo_run(store.db, run)
    return _delete_run_dir(Path(run.location), run)


def _outside(run_dir: Path | None, run: RunRecord) -> tuple[str, ...]:
    """Paths the run recorded (model_dir, export_dir) that exist here, outside its directory."""
    left = []
    for key in ("model_dir", "export_dir"):
        value = run.info.get(key)
        if isinstance(value, str) and value and Path(value).exists():
            path = Path(value).resolve()
            if run_dir is None or not path.is_relative_to(run_dir.resolve()):
                left.append(f"{key} {path}")
    return tuple(left)


def _delete_run_dir(run_dir: Path, run: RunRecord) -> Deleted:
    files = [p for p in run_dir.rglob("*") if p.is_file()]
    size = sum(p.stat().st_size for p in files)
    left = _outside(run_dir, run)
    doomed = run_dir.with_name(f".deleting-{run_dir.name}-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    os.rename(run_dir, doomed)  # atomic: the run is gone from every listing from here on
    shutil.rmtree(doomed)
    return Deleted(run.run_id, f"{len(files)} files, {_size(size)}", left)


def _delete_mongo_run(db: Any, run: RunRecord) -> Deleted:

    key = run.raw["_id"]
    metrics = db.metrics.count_documents({"run_id": key})
    artifacts = len(run.raw.get("artifacts") or [])
    delete_run(db, key)
    return Deleted(
        run.run_id, f"document, {metrics} metrics, {artifacts} artifacts", _outside(None, run)
    )


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"  # pragma: no cover
