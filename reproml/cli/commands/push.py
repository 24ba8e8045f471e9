"""`reproml push runs/ --mongo URL`: copy file-store runs into MongoDB, as MongoObserver would.

Each run becomes a ``runs`` document with MongoObserver's fields (``_id``, ``experiment`` with
``sources`` as ``[name, file_id]``, ``format``, ``command``, ``host``, ``start_time``,
``heartbeat``, ``stop_time``, ``status``, ``result``, ``config``, ``meta``, ``info``,
``resources``, ``artifacts`` as ``{name, file_id}``, ``captured_out``, ``fail_trace``), one
``metrics`` document per metric (``run_id, name, steps, values, timestamps``), and GridFS files
named ``artifact://runs/<_id>/<name>`` (artifacts) and ``<base_dir>/<source>`` (sources).

A run MongoObserver already recorded live (same experiment, host and start time to the
millisecond, which is MongoDB's precision) is left as it is ("already recorded").

Idempotent: the document also holds ``pushed_from = {"run_id", "store", "key", "digest"}``.
`key` identifies the run (experiment, start time, host, file-store id), so a second push finds
it again; when the run's files are unchanged (same `digest`) it is skipped, otherwise (a run
pushed while still RUNNING) its document, metrics and artifacts are replaced under the same
``_id``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import mimetypes
import os
import sys
from pathlib import Path
from typing import Any

from tqdm import tqdm

from reproml.runs.file_store import FileStore
from reproml.runs.mongo_store import connect, gridfs_of, redact
from reproml.runs.record import CliError, RunRecord, parse_time
from reproml.runs.stores import mongo_url

MONGO_OBSERVER_FORMAT = "MongoObserver-0.7.0"
RUN_FILES = ("run.json", "config.json", "info.json", "metrics.json", "cout.txt")


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register `push`."""
    parser = subparsers.add_parser("push", help="upload file-store runs into MongoDB")
    parser.add_argument("source", metavar="RUNS_DIR", help="FileStorageObserver directory")
    parser.add_argument("--mongo", dest="push_mongo", help="MongoDB URL (or $REPROML_MONGO_URL)")
    parser.set_defaults(func=run)


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
        path = run_dir / name
        digest.update(name.encode() + b"\0")
        digest.update(path.read_bytes() if path.is_file() else b"<missing>")
    return digest.hexdigest()


def _md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def _upload_sources(fs: Any, run: RunRecord, store_root: Path) -> list[list[Any]]:
    """Put each source once (by filename + md5, as MongoObserver looks them up)."""
    experiment = run.raw["experiment"]
    sources = []
    for name, stored in experiment.get("sources") or []:
        local = store_root / stored
        if not local.is_file():
            raise CliError(f"run {run.run_id}: source {name!r} is missing from {local}")
        filename = os.path.join(experiment.get("base_dir", ""), name)
        md5 = _md5(local)
        existing = fs.find_one({"filename": filename, "md5": md5})
        file_id = (
            existing._id if existing else fs.put(local.read_bytes(), filename=filename, md5=md5)
        )
        sources.append([name, file_id])
    return sources


def _resources(run: RunRecord) -> list[list[str]]:
    """MongoObserver records resources as ``(filename, md5)``; the file store as paths."""
    resources = []
    for filename, stored in run.raw.get("resources") or []:
        path = Path(stored)
        resources.append([filename, _md5(path) if path.is_file() else None])
    return resources


def run_document(run: RunRecord, run_id: Any, fs: Any, store_root: Path) -> dict[str, Any]:
    """Return the ``runs`` document MongoObserver would have written (artifacts not yet)."""
    experiment = dict(run.raw["experiment"])
    experiment["sources"] = _upload_sources(fs, run, store_root)
    cout = Path(run.location) / "cout.txt"
    doc = {
        "_id": run_id,
        "experiment": experiment,
        "format": MONGO_OBSERVER_FORMAT,
        "command": run.raw.get("command"),
        "host": run.raw.get("host") or {},
        "start_time": run.start_time,
        "heartbeat": run.heartbeat,
        "stop_time": run.stop_time,
        "status": run.status,
        "result": run.result,
        "config": run.config,
        "meta": run.raw.get("meta") or {},
        "info": dict(run.info),
        "resources": _resources(run),
        "artifacts": [],
        "captured_out": cout.read_text(encoding="utf-8", errors="replace")
        if cout.is_file()
        else "",
    }
    if "fail_trace" in run.raw:
        doc["fail_trace"] = run.raw["fail_trace"]
    if run.stop_time is None:
        del doc["stop_time"]
    return doc


def _metric_documents(run: RunRecord, run_id: Any) -> list[dict[str, Any]]:
    return [
        {
            "run_id": run_id,
            "name": name,
            "steps": list(series.get("steps", [])),
            "values": list(series.get("values", [])),
            "timestamps": [parse_time(t) for t in series.get("timestamps", [])],
        }
        for name, series in sorted(run.metrics.items())
    ]


def _delete_run(db: Any, fs: Any, doc: dict[str, Any]) -> None:
    for artifact in doc.get("artifacts") or []:
        fs.delete(artifact["file_id"])
    db.metrics.delete_many({"run_id": doc["_id"]})
    db.runs.delete_one({"_id": doc["_id"]})


def recorded_live(db: Any, run: RunRecord) -> dict[str, Any] | None:
    """Return the document MongoObserver wrote for the same run, if it recorded it live."""
    if run.start_time is None:
        return None
    window = dt.timedelta(milliseconds=1)
    return db.runs.find_one(
        {
            "pushed_from": {"$exists": False},
            "experiment.name": run.experiment,
            "host.hostname": (run.raw.get("host") or {}).get("hostname"),
            "start_time": {"$gte": run.start_time - window, "$lte": run.start_time + window},
        }
    )


def _next_id(db: Any) -> int:
    ids = [d["_id"] for d in db.runs.find({}, {"_id": 1}) if isinstance(d["_id"], int)]
    return max(ids, default=0) + 1


def push_run(db: Any, run: RunRecord, store_root: Path) -> tuple[str, Any]:
    """Push one run.

    Returns:
      (``"added"``, ``"updated"``, ``"unchanged"`` or ``"already recorded"``, its Mongo ``_id``).
    """
    from sacred.observers.mongo import force_bson_encodeable

    fs = gridfs_of(db)
    key, digest = run_key(run), run_digest(run)
    existing = db.runs.find_one({"pushed_from.key": key})
    if existing is not None and existing["pushed_from"].get("digest") == digest:
        return "unchanged", existing["_id"]
    if existing is None:
        live = recorded_live(db, run)
        if live is not None:
            return "already recorded", live["_id"]
        run_id, outcome = _next_id(db), "added"
    else:
        _delete_run(db, fs, existing)
        run_id, outcome = existing["_id"], "updated"
    doc = run_document(run, run_id, fs, store_root)
    for name in run.artifacts:
        path = Path(run.location) / name
        if not path.is_file():
            raise CliError(f"run {run.run_id}: artifact {name!r} is listed but {path} is missing")
        file_id = fs.put(
            path.read_bytes(),
            filename=f"artifact://{db.runs.name}/{run_id}/{name}",
            metadata=None,
            content_type=mimetypes.guess_type(name)[0],
        )
        doc["artifacts"].append({"name": name, "file_id": file_id})
    metric_docs = _metric_documents(run, run_id)
    if metric_docs:
        inserted = db.metrics.insert_many(metric_docs).inserted_ids
        doc["info"]["metrics"] = [
            {"name": m["name"], "id": str(i)} for m, i in zip(metric_docs, inserted, strict=True)
        ]
    doc["pushed_from"] = {
        "run_id": run.run_id,
        "store": str(store_root.resolve()),
        "key": key,
        "digest": digest,
        "pushed_at": dt.datetime.now(dt.UTC).replace(tzinfo=None),
    }
    db.runs.insert_one(force_bson_encodeable(doc))
    return outcome, run_id


def run(args: argparse.Namespace) -> int:
    """Push every readable run of RUNS_DIR; returns 0."""
    url = args.push_mongo or mongo_url(args)
    if not url:
        raise CliError("push needs a target: --mongo URL (or $REPROML_MONGO_URL)")
    store = FileStore(args.source)
    runs, warnings = store.list_runs()
    for line in warnings:
        print(f"warning: {line}", file=sys.stderr)
    db = connect(url)
    counts = {"added": 0, "updated": 0, "unchanged": 0, "already recorded": 0}
    for record in tqdm(runs, desc="push", unit="run", disable=None, file=sys.stderr):
        outcome, mongo_id = push_run(db, record, store.root)
        counts[outcome] += 1
        print(f"run {record.run_id} -> {redact(url)} runs/{mongo_id}: {outcome}")
    print(", ".join(f"{n} {what}" for what, n in counts.items()) + f" ({len(warnings)} skipped)")
    return 0
