"""Where a live run is recorded: the file store (always) and MongoDB (optional, fail-fast).

* The file store is a Sacred `FileStorageObserver` under ``$REPROML_RUNS_DIR`` (default
  ``runs/``). It works with nothing running and keeps a whole copy of every run.
* MongoDB comes from Sacred's own ``-m HOST:PORT:DB`` flag (Sacred parses it and makes the
  `MongoObserver`) or from ``REPROML_MONGO_URL``; either is pinged with a 3 s timeout before the
  run starts (`reproml.runs.mongo`), so an unreachable server fails in seconds naming the host.
* Every observer is wrapped in `GuardedObserver`: what it records is scrubbed of credentials,
  and an observer that fails after the start (MongoDB lost mid-run) is reported once, naming
  it, and then skipped, so the run finishes in the other stores.
* A store that recorded the whole run seals its record when the run ends (any final status):
  ``seal.json`` / the document's ``seal`` field, signed when ``$REPROML_SIGNING_KEY`` names a
  key (`reproml.runs.seal`, `reproml.runs.signing`).
"""

from __future__ import annotations

import datetime
import logging
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sacred.observers import FileStorageObserver, MongoObserver, RunObserver

from reproml.errors import RecordError, ReproMLError
from reproml.runs.mongo import MongoTarget, connect, gridfs_of, ping
from reproml.runs.scrub import redact_url, scrub, scrub_text
from reproml.runs.seal import seal_mongo_run, seal_run_dir
from reproml.runs.signing import signing_key_from_env
from reproml.tracking.atomic_observer import AtomicFileStorageObserver

RUNS_DIR_ENV = "REPROML_RUNS_DIR"
DEFAULT_RUNS_DIR = "runs"

_log = logging.getLogger("reproml.tracking")


def runs_dir() -> str:
    """Return the file store directory: ``$REPROML_RUNS_DIR`` or ``runs``."""
    return os.environ.get(RUNS_DIR_ENV) or DEFAULT_RUNS_DIR


def mongo_observer(
    database: Any, name: str, ping: Callable[[], object] | None = None
) -> GuardedObserver:
    """Return a guarded Sacred `MongoObserver` writing to `database` (a pymongo database).

    Args:
      database: a database object: ``runs`` and ``metrics`` collections and GridFS ``fs``.
      name: how messages name this store (host and db, no credentials).
      ping: called before the final update; raising means the server is gone.
    """
    observer = MongoObserver.create_from(
        database.runs, gridfs_of(database), metrics_collection=database.metrics
    )
    return GuardedObserver(observer, name, ping=ping)


def mongo_observer_for(target: MongoTarget) -> GuardedObserver:
    """Connect to `target` (fail-fast, see `reproml.runs.mongo.connect`); return its observer."""
    database = connect(target)
    return mongo_observer(
        database, f"MongoDB {target.display}", ping=lambda: ping(database.client, target)
    )


def guard_sacred_mongo_observer(observer: MongoObserver, target: MongoTarget) -> GuardedObserver:
    """Ping the server of a `MongoObserver` Sacred made from ``-m``, and return it guarded.

    Raises:
      MongoUnreachableError: the server does not answer within 3 s (names the host).
    """
    client = observer.runs.database.client
    ping(client, target)
    return GuardedObserver(observer, f"MongoDB {target.display}", ping=lambda: ping(client, target))


def file_store_observer(directory: str | None = None) -> GuardedObserver:
    """Return the guarded file store under `directory` (default `runs_dir()`).

    The file store numbers its own run directories (it ignores an id chosen by MongoDB), so
    runs recorded with and without MongoDB never collide in the same directory.
    """
    observer = AtomicFileStorageObserver(directory or runs_dir())
    return GuardedObserver(observer, "file store", own_ids=True)


def is_file_store(observer: object) -> bool:
    """Tell whether it is a (guarded) `FileStorageObserver`."""
    inner = observer.observer if isinstance(observer, GuardedObserver) else observer
    return isinstance(inner, FileStorageObserver)


MAX_SCRUB_BYTES = 64 * 1024 * 1024


def scrubbed_copy(filename: str) -> str:
    """Return `filename`, or a scrubbed temp copy when the (text) file holds a credential."""
    path = Path(filename)
    try:
        if path.stat().st_size > MAX_SCRUB_BYTES:
            return filename
        text = path.read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError):
        return filename
    clean = scrub_text(text)
    if clean == text:
        return filename
    directory = Path(tempfile.mkdtemp(prefix="reproml-scrubbed-"))
    copy = directory / path.name
    copy.write_text(clean, encoding="utf-8")
    return str(copy)


class GuardedObserver(RunObserver):
    """Wraps a Sacred observer: scrubs what it records and survives its failure.

    The start event is passed through unguarded (a store that cannot record the start must
    stop the run). Any later failure is logged once as a warning naming the store, after which
    the store is skipped; the other observers and the run carry on.

    Args:
      observer: the Sacred observer to wrap.
      name: how messages name it.
      ping: checked before the final event; a failure marks the store as lost without waiting
        for the wrapped observer's own retries.
      own_ids: ignore the run id chosen by a higher-priority observer.
    """

    def __init__(
        self,
        observer: RunObserver,
        name: str,
        ping: Callable[[], object] | None = None,
        own_ids: bool = False,
    ) -> None:
        self.observer = observer
        self.name = name
        self.ping = ping
        self.own_ids = own_ids
        self.priority = observer.priority
        self.failure: str | None = None
        self.failed_during: str | None = None  # the event it failed in (not `failed_event`:
        # that is the observer method Sacred calls when the run fails)
        self.missing: list[str] = []  # what this store did not record, after the failure
        self.signing_key: Any = None  # the Ed25519 key that signs the seal ($REPROML_SIGNING_KEY)

    def __getattr__(self, item: str) -> Any:
        return getattr(self.__dict__["observer"], item)

    def __repr__(self) -> str:
        return f"<{self.name}: {type(self.observer).__name__}>"

    def _report(self, event: str, err: BaseException) -> None:
        if self.failure is None:
            self.failure = f"{type(err).__name__}: {redact_url(str(err))[:300]}"
            self.failed_during = event
            _log.warning(
                "%s failed during %s (%s); the run goes on, but this store's record of it is "
                "incomplete from here on",
                self.name,
                event,
                self.failure,
            )

    def _call(self, event: str, **kwargs: Any) -> Any:
        if self.failure is None:
            try:
                return getattr(self.observer, event)(**scrub(kwargs))
            except Exception as err:  # noqa: BLE001 - a lost store must not stop the run
                self._report(event, err)
        self._note_missing(event, kwargs)
        return None

    def _note_missing(self, event: str, kwargs: dict[str, Any]) -> None:
        what = {
            "artifact_event": lambda: f"artifact {kwargs.get('name')}",
            "resource_event": lambda: f"resource {kwargs.get('filename')}",
            "log_metrics": lambda: "metric points",
            "heartbeat_event": lambda: "info, output and heartbeat updates",
            "completed_event": lambda: "the final status COMPLETED and result",
            "interrupted_event": lambda: f"the final status {kwargs.get('status')}",
            "failed_event": lambda: "the final status FAILED and its traceback",
        }.get(event, lambda: event)()
        if what not in self.missing:
            self.missing.append(what)

    @property
    def location(self) -> str:
        """Where this store keeps the run: its directory, or ``runs/<id>`` in MongoDB."""
        directory = getattr(self.observer, "dir", None)
        if directory:
            return str(directory)
        entry = getattr(self.observer, "run_entry", None) or {}
        return f"runs/{entry.get('_id')}"

    def _final(self, event: str, **kwargs: Any) -> None:
        if self.failure is None and self.ping is not None:
            try:
                self.ping()
            except Exception as err:  # noqa: BLE001
                self._report(event, err)
        self._call(event, **kwargs)
        if self.failure is None:
            self._seal()

    def _seal(self) -> None:
        """Seal this store's record of the run, now whole (`reproml.runs.seal`), last of all.

        A store that failed at any point is never sealed: a sealed record is a complete one.
        A seal that cannot be written is one warning; the record stays unsealed (shown so).
        """
        inner = self.observer
        try:
            if isinstance(inner, FileStorageObserver) and inner.dir:
                seal_run_dir(Path(inner.dir), self.signing_key)
            elif isinstance(inner, MongoObserver) and inner.run_entry:
                seal = seal_mongo_run(inner.runs.database, inner.run_entry["_id"], self.signing_key)
                inner.run_entry["seal"] = seal  # a later save of the entry keeps it
        except Exception as err:  # noqa: BLE001 - the run is over; its record stays unsealed
            _log.warning(
                "%s could not seal its record of the run (%s: %s); it is shown as unsealed",
                self.name,
                type(err).__name__,
                redact_url(str(err))[:300],
            )

    def _scrubbed_start(
        self,
        ex_info: dict[str, Any],
        command: str,
        host_info: dict[str, Any],
        config: dict[str, Any],
        meta_info: dict[str, Any],
        _id: int | str | None,
    ) -> dict[str, Any]:
        """The arguments of a queued or started event, scrubbed, with this store's id choice."""
        return {
            **scrub(
                dict(
                    ex_info=ex_info,
                    command=command,
                    host_info=host_info,
                    config=config,
                    meta_info=meta_info,
                )
            ),
            "_id": None if self.own_ids else _id,
        }

    def queued_event(  # noqa: D102
        self,
        ex_info: dict[str, Any],
        command: str,
        host_info: dict[str, Any],
        queue_time: datetime.datetime,
        config: dict[str, Any],
        meta_info: dict[str, Any],
        _id: int | str | None,
    ) -> int | str | None:
        arguments = self._scrubbed_start(ex_info, command, host_info, config, meta_info, _id)
        return self.observer.queued_event(queue_time=queue_time, **arguments)

    def started_event(
        self,
        ex_info: dict[str, Any],
        command: str,
        host_info: dict[str, Any],
        start_time: datetime.datetime,
        config: dict[str, Any],
        meta_info: dict[str, Any],
        _id: int | str | None,
    ) -> int | str | None:
        """Record the start; a store that cannot do it stops the run with one line naming it.

        Raises:
          RecordError: the wrapped observer failed (e.g. no space left for the sources),
            naming the store and where it writes. The store is then skipped for the
            events Sacred still sends (the failed status of a run that never started).
        """
        # A signing key that cannot be read stops the run now, not unsigned at its end.
        self.signing_key = signing_key_from_env()
        try:
            arguments = self._scrubbed_start(ex_info, command, host_info, config, meta_info, _id)
            return self.observer.started_event(start_time=start_time, **arguments)
        except Exception as err:
            self.failure = f"{type(err).__name__}: {redact_url(str(err))[:300]}"
            self.failed_during = "started_event"
            self.missing.append("the whole run (it did not start)")
            if isinstance(err, ReproMLError):
                raise
            where = getattr(self.observer, "basedir", None) or self.location
            raise RecordError(
                where,
                f"the {self.name} could not record the start of the run ({self.failure})",
                "The run did not start; make room (or repair the store) and run it again",
            ) from err

    def heartbeat_event(  # noqa: D102
        self,
        info: dict[str, Any],
        captured_out: str,
        beat_time: datetime.datetime,
        result: Any,
    ) -> None:
        self._call(
            "heartbeat_event",
            info=info,
            captured_out=captured_out,
            beat_time=beat_time,
            result=result,
        )

    def completed_event(self, stop_time: datetime.datetime, result: Any) -> None:  # noqa: D102
        self._final("completed_event", stop_time=stop_time, result=result)

    def interrupted_event(  # noqa: D102
        self, interrupt_time: datetime.datetime, status: str
    ) -> None:
        self._final("interrupted_event", interrupt_time=interrupt_time, status=status)

    def failed_event(  # noqa: D102
        self, fail_time: datetime.datetime, fail_trace: list[str]
    ) -> None:
        self._final("failed_event", fail_time=fail_time, fail_trace=fail_trace)

    def resource_event(self, filename: str) -> None:  # noqa: D102
        self._call("resource_event", filename=filename)

    def artifact_event(  # noqa: D102
        self,
        name: str,
        filename: str,
        metadata: dict[str, Any] | None = None,
        content_type: str | None = None,
    ) -> None:
        filename = scrubbed_copy(filename)
        self._call(
            "artifact_event",
            name=name,
            filename=filename,
            metadata=metadata,
            content_type=content_type,
        )

    def log_metrics(  # noqa: D102
        self, metrics_by_name: dict[str, dict[str, Any]], info: dict[str, Any]
    ) -> None:
        # `info` is the run's own dict: MongoObserver adds info["metrics"] to it in place.
        if self.failure is None:
            try:
                self.observer.log_metrics(metrics_by_name=metrics_by_name, info=info)
                return
            except Exception as err:  # noqa: BLE001
                self._report("log_metrics", err)
        self._note_missing("log_metrics", {})

    def join(self) -> None:  # noqa: D102 - waiting for queued writes; nothing is recorded by itself
        if self.failure is None:
            try:
                self.observer.join()
            except Exception as err:  # noqa: BLE001
                self._report("join", err)


def incomplete_records(run: Any) -> list[str]:
    """Return one line per store whose record of `run` is incomplete (empty: all are whole).

    Each line names the store, where it keeps the run, the event it failed in and what it is
    missing, e.g. ``file store runs/3 is incomplete: it failed during artifact_event (OSError:
    [Errno 28] No space left on device) and is missing artifact saved_model.zip, the final
    status COMPLETED and result``.

    A store that could not record the start is not listed: the run did not start, and that
    failure was already raised as its own one-line error.
    """
    lines = []
    for observer in getattr(run, "observers", []):
        if not isinstance(observer, GuardedObserver) or observer.failure is None:
            continue
        if observer.failed_during != "started_event":
            missing = ", ".join(observer.missing) or "the updates after that event"
            lines.append(
                f"{observer.name} {observer.location} is incomplete: it failed during "
                f"{observer.failed_during} ({observer.failure}) and is missing {missing}"
            )
    return lines
