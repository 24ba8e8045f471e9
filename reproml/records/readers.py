"""Read leases: a live run that reads a record directory says so, and writers refuse to rewrite it.

A run takes a lease before it reads the records (`take_read_lease`) and releases it when it
ends, on success, failure or interrupt (`ReadLease.release`)::

    record_dir/.readers/<host>-<pid>-<token>.json   {"pid", "host", "run_id", "experiment",
                                                     "record_dir", "started"}

`write_records` (and the Beam writer's commit) calls `refuse_if_being_read` before it writes and
again before it replaces the shards: while a live run holds a lease, the rewrite is refused with
one line naming the run. A lease whose process is dead (a killed run, on this host) is stale: it
is ignored and removed. A lease of another host cannot be checked and counts as live.
"""

from __future__ import annotations

import datetime
import json
import os
import socket
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reproml.errors import RecordsInUseError
from reproml.pids import pid_alive
from reproml.records.atomic_write import write_atomic

READERS_DIR = ".readers"


def describe_reader(reader: Mapping[str, Any]) -> str:
    """Return ``run 7 (mnist, pid 1234)`` for a lease (its host too when it is another one)."""
    run = reader.get("run_id")
    name = "an unrecorded run" if run is None else f"run {run}"
    where = f"pid {reader.get('pid')}"
    if reader.get("host") != socket.gethostname():
        where += f" on {reader.get('host')}"
    return f"{name} ({reader.get('experiment')}, {where})"


@dataclass
class ReadLease:
    """A lease on a record directory held by this process; `release` removes it (idempotent)."""

    path: Path
    reader: dict[str, Any]

    def release(self) -> None:
        """Remove the lease file (and the leases folder when it is empty)."""
        self.path.unlink(missing_ok=True)
        try:
            self.path.parent.rmdir()
        except OSError:
            pass  # another reader's lease is still there


def take_read_lease(
    record_dir: str | os.PathLike, *, run_id: Any, experiment: str | None
) -> ReadLease:
    """Write a lease saying this process reads `record_dir` for run `run_id` of `experiment`.

    Args:
      record_dir: the record directory the run reads.
      run_id: the run's id in its store (None for an unrecorded run).
      experiment: the experiment's name.

    Returns:
      The lease; release it when the run ends.
    """
    folder = Path(record_dir) / READERS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    host, pid = socket.gethostname(), os.getpid()
    reader = {
        "pid": pid,
        "host": host,
        "run_id": run_id,
        "experiment": experiment,
        "record_dir": str(Path(record_dir).resolve()),
        "started": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    }
    path = folder / f"{host}-{pid}-{uuid.uuid4().hex[:8]}.json"
    write_atomic(path, json.dumps(reader, indent=1))
    return ReadLease(path, reader)


def live_readers(record_dir: str | os.PathLike) -> list[dict[str, Any]]:
    """Return the leases of live readers of `record_dir`, oldest first; remove stale ones.

    A lease is stale when its host is this one and its pid is dead; a lease that cannot be read
    as JSON (a crash while writing it) is stale too.
    """
    folder = Path(record_dir) / READERS_DIR
    if not folder.is_dir():
        return []
    host, live = socket.gethostname(), []
    for path in sorted(folder.glob("*.json")):
        try:
            reader = json.loads(path.read_text(encoding="utf-8"))
            pid = int(reader["pid"])
        except FileNotFoundError:
            continue  # released meanwhile
        except (OSError, ValueError, KeyError, TypeError):
            path.unlink(missing_ok=True)
            continue
        if reader.get("host") == host and not pid_alive(pid):
            path.unlink(missing_ok=True)
            continue
        live.append(reader)
    return sorted(live, key=lambda reader: str(reader.get("started")))


def refuse_if_being_read(record_dir: str | os.PathLike) -> None:
    """Raise unless no live run (other than this process) reads `record_dir`.

    Raises:
      RecordsInUseError: names every live reader (run id, experiment, pid).
    """
    own = (socket.gethostname(), os.getpid())
    others = [r for r in live_readers(record_dir) if (r.get("host"), r.get("pid")) != own]
    if others:
        raise RecordsInUseError(
            record_dir, others, "; ".join(describe_reader(reader) for reader in others)
        )
