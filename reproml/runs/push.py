"""Copy a file-store run into MongoDB by replaying it through Sacred's own `MongoObserver`.

The file store keeps the events of a run (start, info, metrics, artifacts, end) as files; `push_run`
feeds them, in the order a live run emits them, to a fresh `MongoObserver`. So the documents are
MongoObserver's by construction: ``runs`` (its fields and ``format``), ``metrics`` (one document
per metric) and GridFS (``artifact://runs/<_id>/<name>``, sources by path and md5). Nothing here
restates that layout, except two details the observer reads from the local disk of a live run:

* sources: `MongoObserver.save_sources` looks a source up in GridFS by ``(base_dir/name, md5)``
  before reading it from disk, so the file store's stored copy is put there first (the source
  of the run, not whatever the checkout holds today);
* resources: the observer records ``(filename, md5)``; the md5 is that of the stored copy.

Ids are claimed the way MongoObserver claims them (insert, retry on a duplicate key), before any
metric or artifact refers to them, so concurrent pushes and live runs never share an id.
``keep_id=True`` asks for the file-store id instead (a private database, e.g. ``reproml board``).

Tags and notes set with ``reproml tag`` (the run's ``omniboard.json``) become Omniboard's own
``omniboard.tags`` / ``omniboard.notes`` fields. The run's seal (``seal.json``) becomes the
document's ``seal`` field, unchanged: the sealed parts are hashed in a form both stores hold
alike (`reproml.runs.seal`); a run that no longer matches its seal is refused, naming what changed.

Idempotent: ``meta.pushed_from = {"run_id", "store", "key", "annotations", "digest"}``
identifies the pushed run (``annotations``: the tags and note as pushed).
`key` (experiment, start time, host, file-store id) finds it again; `digest` (sha256 of its
files) is written last, so a push killed half-way leaves a document without it, which the next
push deletes with everything it refers to (metrics, and every GridFS file named after the run,
orphans included) and replays under the same id.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import io
import mimetypes
import os
import re
from pathlib import Path
from typing import Any

from reproml.errors import TamperedRunError
from reproml.runs.annotations import as_annotations, omniboard_fields, read_annotations_file
from reproml.runs.mongo import gridfs_of
from reproml.runs.record import RunRecord, parse_time
from reproml.errors import CliError
from reproml.runs.safe_names import check_stored_run, stored_file, stored_resource, stored_source
from reproml.runs.seal import SEAL_FILE, check_run, read_seal_file

RUN_FILES = (
    *("run.json", "config.json", "info.json", "metrics.json", "cout.txt", "omniboard.json"),
    SEAL_FILE,
)
OUTCOMES = ("added", "updated", "unchanged", "already recorded")


def run_key(run: RunRecord) -> str:
    """Return the identity of a file-store run: experiment, start time, host and its id."""
    host = (run.raw.get("host") or {}).get("hostname", "")
    start = run.raw.get("start_time", "")
    return hashlib.sha256(f"{run.experiment}|{start}|{host}|{run.run_id}".encode()).hexdigest()


def run_digest(run: RunRecord) -> str:
    """Return the sha256 of everything pushed for the run (its files and artifacts)."""
    digest = hashlib.sha256()
    run_dir = Path(run.location)
    for name in list(RUN_FILES) + sorted(run.artifacts):
        path = stored_file(run_dir, name, f"run {run.run_id}: run.json artifact")
        digest.update(name.encode() + b"\0")
        digest.update(path.read_bytes() if path.is_file() else b"<missing>")
    return digest.hexdigest()


def _md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def _stage_sources(fs: Any, run: RunRecord, store_root: Path) -> list[list[str]]:
    """Put each stored source where `MongoObserver.save_sources` finds it; return [name, md5]."""
    experiment = run.raw["experiment"]
    staged = []
    for name, stored in experiment.get("sources") or []:
        local = stored_source(store_root, stored, f"run {run.run_id}: source {name!r} stored as")
        if not local.is_file():
            raise CliError(f"run {run.run_id}: source {name!r} is missing from {local}")
        filename, md5 = os.path.join(experiment.get("base_dir", ""), name), _md5(local)
        if fs.find_one({"filename": filename, "md5": md5}) is None:
            fs.put(local.read_bytes(), filename=filename, md5=md5)
        staged.append([name, md5])
    return staged


def _metrics_by_name(run: RunRecord) -> dict[str, dict[str, list]]:
    return {
        name: {
            "steps": list(series.get("steps", [])),
            "values": list(series.get("values", [])),
            "timestamps": [parse_time(t) for t in series.get("timestamps", [])],
        }
        for name, series in sorted(run.metrics.items())
    }


def delete_run(db: Any, run_id: Any) -> None:
    """Delete a run document, its metrics and every GridFS file named after it (orphans too)."""
    fs = gridfs_of(db)
    prefix = f"artifact://{db.runs.name}/{run_id}/"
    doc = db.runs.find_one({"_id": run_id}) or {}
    file_ids = {a["file_id"] for a in doc.get("artifacts") or []}
    file_ids |= {f._id for f in fs.find({"filename": {"$regex": f"^{re.escape(prefix)}"}})}
    for file_id in file_ids:
        fs.delete(file_id)
    db.metrics.delete_many({"run_id": run_id})
    db.runs.delete_one({"_id": run_id})


def recorded_live(db: Any, run: RunRecord) -> dict[str, Any] | None:
    """Return the document MongoObserver wrote for the same run, if it recorded it live."""
    if run.start_time is None:
        return None
    window = dt.timedelta(milliseconds=1)
    return db.runs.find_one(
        {
            "meta.pushed_from": {"$exists": False},
            "experiment.name": run.experiment,
            "host.hostname": (run.raw.get("host") or {}).get("hostname"),
            "start_time": {"$gte": run.start_time - window, "$lte": run.start_time + window},
        }
    )


def replay(
    db: Any, run: RunRecord, store_root: Path, run_id: Any, pushed_from: dict[str, Any]
) -> Any:
    """Feed the run's events to a new `MongoObserver` on `db`; return the id it recorded under.

    Args:
      db: the target database.
      run: a file-store run.
      store_root: the file store directory (its ``_sources``).
      run_id: the id to record under, or None to let MongoObserver claim the next free one.
      pushed_from: what ``meta.pushed_from`` records (its ``digest`` is added by the caller).
    """
    from sacred.observers import MongoObserver

    fs = gridfs_of(db)
    observer = MongoObserver.create_from(db.runs, fs, metrics_collection=db.metrics)
    ex_info = dict(run.raw["experiment"])
    ex_info["sources"] = _stage_sources(fs, run, store_root)
    meta = {**(run.raw.get("meta") or {}), "pushed_from": pushed_from}
    new_id = observer.started_event(
        ex_info,
        run.raw.get("command"),
        run.raw.get("host") or {},
        run.start_time,
        run.config,
        meta,
        run_id,
    )
    for filename, stored in run.raw.get("resources") or []:
        what = f"run {run.run_id}: resource {filename!r} stored as"
        # None: imported from MongoDB (md5 only)
        path = stored_resource(store_root, stored, what) if stored else None
        md5 = _md5(path) if path is not None and path.is_file() else None
        observer.run_entry["resources"].append([filename, md5])
    info = {k: v for k, v in run.info.items() if k != "metrics"}  # ids of another database
    observer.log_metrics(_metrics_by_name(run), info)
    cout = Path(run.location) / "cout.txt"
    captured = cout.read_text(encoding="utf-8", errors="replace") if cout.is_file() else ""
    observer.heartbeat_event(info, captured, run.heartbeat, run.result)
    for name in run.artifacts:
        path = stored_file(Path(run.location), name, f"run {run.run_id}: run.json artifact")
        if not path.is_file():
            raise CliError(f"run {run.run_id}: artifact {name!r} is listed but {path} is missing")
        content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
        with contextlib.redirect_stdout(io.StringIO()):
            observer.artifact_event(name, str(path), content_type=content_type)
    if run.status == "COMPLETED":
        observer.completed_event(run.stop_time, run.result)
    elif run.status == "FAILED":
        observer.failed_event(run.stop_time, run.raw.get("fail_trace"))
    elif run.status != "RUNNING":
        observer.interrupted_event(run.stop_time, run.status)
    return new_id


def push_run(
    db: Any, run: RunRecord, store_root: Path, *, keep_id: bool = False
) -> tuple[str, Any]:
    """Push one file-store run into `db` (see the module docstring).

    Args:
      db: the target database.
      run: a file-store run.
      store_root: the file store directory.
      keep_id: record it under its file-store id (a private database); else the next free id.

    Returns:
      (one of `OUTCOMES`, its MongoDB ``_id``).

    Raises:
      CliError: a source or artifact file of the run is missing, or `keep_id` finds the id
        taken by another run.
      TamperedRunError: the run does not match its seal.
      UnsafeNameError: a name in its run.json is not a plain name inside the run or the store
        (checked before anything is read or written).
    """
    check_stored_run(run, store_root)
    sealed = check_run(None, run, full=True)
    if sealed.tampered:
        raise TamperedRunError(
            f"run {run.run_id} not pushed, it does not match its seal: {sealed.summary()}"
        )
    key, digest = run_key(run), run_digest(run)
    existing = db.runs.find_one({"meta.pushed_from.key": key})
    if existing is not None and existing["meta"]["pushed_from"].get("digest") == digest:
        return "unchanged", existing["_id"]
    if existing is None:
        live = recorded_live(db, run)
        if live is not None:
            return "already recorded", live["_id"]
        run_id, outcome = (int(run.run_id) if keep_id and run.run_id.isdigit() else None), "added"
        if run_id is not None and db.runs.find_one({"_id": run_id}, {"_id": 1}) is not None:
            raise CliError(
                f"run {run.run_id}: id {run_id} is taken by another run in {db.name}; push "
                "without keeping ids, or into an empty database"
            )
    else:
        run_id, outcome = existing["_id"], "updated"
        delete_run(db, run_id)
    pushed_from = {"run_id": run.run_id, "store": str(store_root.resolve()), "key": key}
    new_id = replay(db, run, store_root, run_id, pushed_from)
    # Tags and notes (reproml tag) are Omniboard's own fields, not Sacred's: set them, record
    # them as pushed (so edits made later in Omniboard can be told apart, see
    # reproml.board.database.pull_annotations), then mark the push complete (digest last).
    seal = read_seal_file(Path(run.location))
    fields = {
        **omniboard_fields(run.location),
        **({"seal": seal} if seal is not None else {}),
        "meta.pushed_from.annotations": as_annotations(read_annotations_file(Path(run.location))),
        "meta.pushed_from.digest": digest,
    }
    db.runs.update_one({"_id": new_id}, {"$set": fields})
    return outcome, new_id
