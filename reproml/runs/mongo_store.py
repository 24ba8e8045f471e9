"""Run written by Sacred's MongoObserver: collections ``runs``, ``metrics`` and GridFS.

The ``--mongo`` URL names the database (``mongodb://host:27017/reproml``; ``reproml`` when the
URL has no database, as `reproml.tracking` records runs). Messages show the URL with its
password masked. Clients come from `client_factory`, which
tests replace with ``mongomock``. An unreachable server fails within `TIMEOUT_MS`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from reproml.runs.record import CliError, RunRecord, parse_time, run_sort_key

DEFAULT_DATABASE = "reproml"
TIMEOUT_MS = 3000


def _pymongo_client(url: str, **kwargs: Any) -> Any:
    import pymongo

    return pymongo.MongoClient(url, **kwargs)


# Builds a client from (url, **kwargs); tests substitute a mongomock client here.
client_factory: Callable[..., Any] = _pymongo_client


def database_name(url: str) -> str:
    """Return the database named in a ``mongodb://`` URL, else ``reproml``.

    Raises:
      CliError: the URL is not a MongoDB URL.
    """
    from pymongo.errors import InvalidURI
    from pymongo.uri_parser import parse_uri

    try:
        return parse_uri(url, warn=True)["database"] or DEFAULT_DATABASE
    except (InvalidURI, ValueError) as err:
        raise CliError(f"--mongo {redact(url)!r} is not a MongoDB URL ({err})") from None


def connect(url: str) -> Any:
    """Return the database of `url`, after checking the server answers.

    Raises:
      CliError: the URL is invalid or the server does not answer within `TIMEOUT_MS`.
    """
    from pymongo.errors import PyMongoError

    name = database_name(url)
    try:
        client = client_factory(
            url, serverSelectionTimeoutMS=TIMEOUT_MS, connectTimeoutMS=TIMEOUT_MS
        )
        client.admin.command("ping")
    except PyMongoError as err:
        first_line = str(err).splitlines()[0] if str(err) else type(err).__name__
        first_line = first_line.split(" (configured timeouts")[0].split(", Timeout:")[0]
        raise CliError(
            f"MongoDB at {redact(url)} is unreachable after {TIMEOUT_MS / 1000:g} s "
            f"({first_line[:200]})"
        ) from None
    return client[name]


def redact(url: str) -> str:
    """Return `url` with the password (``user:PASSWORD@``) replaced by ``***``."""
    return re.sub(r"(//[^/@:]*:)[^/@]*@", r"\1***@", url)


def gridfs_of(db: Any) -> Any:
    """Return the GridFS bucket (``fs.files`` / ``fs.chunks``) MongoObserver writes to."""
    import gridfs

    return gridfs.GridFS(db)


class MongoStore:
    """The runs of one MongoObserver database.

    Args:
      db: a pymongo (or mongomock) database.
      description: how to name the store in messages (the URL).
    """

    def __init__(self, db: Any, description: str) -> None:
        self.db = db
        self.description = description

    def _record(self, doc: dict[str, Any]) -> RunRecord:
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
        runs = [self._record(doc) for doc in docs]
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
        return self._record(doc)

    def read_artifact(self, run: RunRecord, name: str) -> bytes:
        """Return the bytes of artifact `name` of `run` from GridFS.

        Raises:
          CliError: the run has no such artifact.
        """
        for artifact in run.raw.get("artifacts") or []:
            if artifact["name"] == name:
                return gridfs_of(self.db).get(artifact["file_id"]).read()
        raise CliError(f"run {run.run_id} in MongoDB {self.description} has no artifact {name!r}")
