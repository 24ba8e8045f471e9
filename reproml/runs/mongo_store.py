"""Runs written by Sacred's MongoObserver: collections ``runs``, ``metrics`` and GridFS.

The database comes from a `reproml.runs.mongo.MongoTarget` (``--mongo URL`` or
``REPROML_MONGO_URL``; db ``reproml`` when the URL names none, as live runs record them), reached
through `reproml.runs.mongo.connect` (fails in seconds, names the host, masks the password).
"""

from __future__ import annotations

from typing import Any

from reproml.runs.mongo import MongoTarget, connect, gridfs_of
from reproml.runs.record import RunRecord, parse_time, run_sort_key
from reproml.errors import CliError
from reproml.runs.mongo import target_from_url


def open_mongo_store(url: str, source: str = "--mongo") -> MongoStore:
    """Return the store of the database named by a ``mongodb://`` URL, after pinging it.

    Raises:
      MongoUnreachableError: the URL is not a MongoDB URL or the server does not answer.
    """

    target = target_from_url(url, source)
    return MongoStore(connect(target), target.display, target)


class MongoStore:
    """The runs of one MongoObserver database.

    Args:
      db: a pymongo database.
      description: how to name the store in messages (``host:port/db``, no credentials).
      target: where it was reached (None when the database was handed over directly).
    """

    def __init__(self, db: Any, description: str, target: MongoTarget | None = None) -> None:
        self.db = db
        self.description = description
        self.target = target

    def record_of(self, doc: dict[str, Any]) -> RunRecord:
        """Return the `RunRecord` of a run document of this database (metrics read from it)."""
        metrics = {
            m["name"]: {
                "steps": list(m.get("steps", [])),
                "values": list(m.get("values", [])),
                "timestamps": list(m.get("timestamps", [])),
            }
            for m in self.db.metrics.find({"run_id": doc["_id"]})
        }
        experiment = doc.get("experiment") or {}
        return RunRecord(
            run_id=str(doc["_id"]),
            experiment=str(experiment.get("name", "?")),
            status=str(doc.get("status", "?")),
            start_time=parse_time(doc.get("start_time")),
            stop_time=parse_time(doc.get("stop_time")),
            heartbeat=parse_time(doc.get("heartbeat")),
            result=doc.get("result"),
            config=dict(doc.get("config") or {}),
            info=dict(doc.get("info") or {}),
            metrics=metrics,
            artifacts=[a["name"] for a in doc.get("artifacts") or []],
            location=f"{self.description} runs/{doc['_id']}",
            raw=doc,
        )

    def list_runs(self) -> tuple[list[RunRecord], list[str]]:
        """Return every run of the database (no warnings: documents are never half-written).

        Raises:
          CliError: the database holds no runs.
        """
        docs = list(self.db.runs.find({"experiment": {"$exists": True}}))
        if not docs:
            raise CliError(f"MongoDB {self.description} holds no runs")
        runs = [self.record_of(doc) for doc in docs]
        return sorted(runs, key=lambda r: run_sort_key(r.run_id)), []

    def get_run(self, run_id: str) -> RunRecord:
        """Return run `run_id` (an integer id, or a string id).

        Raises:
          CliError: there is no such run.
        """
        doc = None
        if str(run_id).isdigit():
            doc = self.db.runs.find_one({"_id": int(run_id)})
        if doc is None:
            doc = self.db.runs.find_one({"_id": run_id})
        if doc is None:
            ids = sorted(
                (str(d["_id"]) for d in self.db.runs.find({}, {"_id": 1})), key=run_sort_key
            )
            shown = ", ".join(ids[:10]) or "none"
            raise CliError(f"no run {run_id!r} in MongoDB {self.description} (runs there: {shown})")
        return self.record_of(doc)

    def read_artifact(self, run: RunRecord, name: str) -> bytes:
        """Return the bytes of artifact `name` of `run` from GridFS.

        Raises:
          CliError: the run has no such artifact.
        """
        for artifact in run.raw.get("artifacts") or []:
            if artifact["name"] == name:
                return gridfs_of(self.db).get(artifact["file_id"]).read()
        raise CliError(f"run {run.run_id} in MongoDB {self.description} has no artifact {name!r}")
