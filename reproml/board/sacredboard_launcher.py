"""Start Sacredboard 0.4.2 with two fixes; run by the Python of Sacredboard's own venv.

``python sacredboard_launcher.py -mu URL DB --port N --no-browser`` is ``sacredboard`` with
the same arguments, except that:

* **its status filters run no JavaScript.** Sacredboard tells RUNNING from DEAD runs with
  ``$where: "new Date() - this.heartbeat > 120000"`` (server-side JavaScript, which the
  board's SecantusDB does not run, and many managed MongoDBs disable). Here the same rule is a
  plain query computed when the request comes: ``heartbeat`` later (RUNNING) or earlier (DEAD)
  than now minus 120 s (Sacred stores heartbeats as UTC). "Not RUNNING" is ``$nor`` of that
  clause (Sacredboard's ``$not`` at the top level is not a valid query).
* **a dict result is readable in the run list**: ``accuracy: 0.93, loss: 0.21`` instead of
  ``[object Object]``. A run's own page shows the result as recorded.

This file imports only Sacredboard and the standard library: it runs in Sacredboard's venv
(pymongo 3), never in reproml's.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from collections.abc import Iterator
from typing import Any

from sacredboard import bootstrap
from sacredboard.app.data.pymongo.rundao import MongoRunDAO

DEAD_AFTER = dt.timedelta(seconds=120)  # Sacredboard's (and Omniboard's) rule


def status_clause(clause: dict[str, Any]) -> dict[str, Any]:
    """Return the MongoDB query of a RUNNING/DEAD status clause, without ``$where``."""
    cutoff = dt.datetime.utcnow() - DEAD_AFTER
    heartbeat = {"$gt": cutoff} if clause["value"] == "RUNNING" else {"$lte": cutoff}
    query = {"status": "RUNNING", "heartbeat": heartbeat}
    return {"$nor": [query]} if clause["operator"] == "!=" else query


def readable_result(result: Any) -> Any:
    """Return a dict result as one line ``key: value, ...``; any other result as it is."""
    if not isinstance(result, dict):
        return result
    return ", ".join(f"{key}: {json.dumps(value, default=str)}" for key, value in result.items())


class ReadableRuns:
    """Sacredboard's run cursor, each run's dict result made one readable line."""

    def __init__(self, cursor: Any) -> None:
        self.cursor = cursor

    def count(self) -> int:
        """Return how many runs the query matched."""
        return self.cursor.count()

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for run in self.cursor:
            if "result" in run:
                run["result"] = readable_result(run["result"])
            yield run


_get_runs = MongoRunDAO.get_runs


def get_runs(self: MongoRunDAO, *args: Any, **kwargs: Any) -> ReadableRuns:
    """`MongoRunDAO.get_runs`, with dict results made readable (the run list only)."""
    return ReadableRuns(_get_runs(self, *args, **kwargs))


MongoRunDAO._status_filter_to_query = staticmethod(status_clause)
MongoRunDAO.get_runs = get_runs

if __name__ == "__main__":
    sys.argv[0] = "sacredboard"
    bootstrap.run()
