"""The board's private database for file-store runs: SecantusDB as a separate process.

SecantusDB (PyPI ``secantusdb``, GPL-2.0-only) speaks MongoDB's wire protocol. reproml never
imports it: it only runs its console script ``secantusd-py`` (installed by the optional
``board`` extra) as a child process, on 127.0.0.1 and a directory of the file store
(``<store>/.board/db``; the file store ignores names starting with a dot).

`sync_store` makes that database hold exactly the file store's readable runs, under their
file-store ids: runs that left the store (or were replaced under the same id) are deleted, the
others are pushed by `reproml.runs.push.push_run`, which skips unchanged runs. A run that no
longer matches its seal, or whose run.json names a file outside its run, is not shown (nor an
earlier copy of it): one warning line names each such run, and the others are shown. Their ``format``
(Omniboard's "Format" column) says they are file-store runs (`FILE_STORE_FORMAT`), not runs a
MongoObserver recorded. The copies are the board's readable view of the runs
(`reproml.board.readable`: flattened config without docstrings, no throughput in the plot).

Tags and notes edited in Omniboard land in that database; `pull_annotations` writes them back
into the runs' ``omniboard.json`` (when the board stops, and before each sync), so the file
store stays the record ``reproml runs --tag`` / ``show`` read.
"""

from __future__ import annotations

import contextlib
import shutil
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from reproml.board.processes import Child
from reproml.board.readable import make_readable
from reproml.errors import BoardError, CliError, TamperedRunError, UnsafeNameError
from reproml.runs.annotations import (
    ANNOTATIONS_FILE,
    as_annotations,
    read_annotations_file,
    write_annotations_file,
)
from reproml.runs.file_store import FileStore
from reproml.runs.push import delete_run, push_run, run_digest, run_key

SERVER_SCRIPT = "secantusd-py"
# Omniboard's "Format" column: the runs of this database were recorded by Sacred's
# FileStorageObserver; the MongoObserver that replayed them here (`push_run`) only copied them.
FILE_STORE_FORMAT = "FileStorageObserver (file store, shown by reproml board)"
READY = r"secantus listening on 127\.0\.0\.1:(\d+)"
START_TIMEOUT = 60.0
DB_NAME = "reproml_board"


def find_server() -> str:
    """Return the path of ``secantusd-py`` (next to this Python first, then on PATH).

    Raises:
      BoardError: it is not installed.
    """
    beside = Path(sys.executable).parent / SERVER_SCRIPT
    found = str(beside) if beside.is_file() else shutil.which(SERVER_SCRIPT)
    if found is None:
        raise BoardError(
            f"{SERVER_SCRIPT} (SecantusDB, GPL-2.0) is not installed: it serves file-store runs "
            "to the board. Install the board extra: pip install -c constraints.txt -e '.[board]' "
            "(or pass --mongo URL to review runs already in MongoDB)"
        )
    return found


def start_server(storage: Path, log_dir: Path) -> tuple[Child, str]:
    """Start ``secantusd-py`` on `storage`, on a free 127.0.0.1 port; return (child, its URL).

    Raises:
      BoardError: it is not installed, exited, or was not ready in time (names its log).
    """
    storage.mkdir(parents=True, exist_ok=True)
    argv = [
        find_server(),
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--storage-path",
        str(storage),
        "--log-level",
        "INFO",
    ]
    child = Child(SERVER_SCRIPT, argv, log_dir / "secantusd.log")
    try:
        port = int(child.wait_for(READY, START_TIMEOUT, "listening").group(1))
    except BaseException:
        with contextlib.suppress(Exception):
            child.stop()
        raise
    return child, f"mongodb://127.0.0.1:{port}/{DB_NAME}"


def pull_annotations(db: Any, store: FileStore) -> list[str]:
    """Write the tags and notes edited in the board back into the runs' ``omniboard.json``.

    A document's ``omniboard`` differs from ``meta.pushed_from.annotations`` (what was pushed)
    only when someone edited it in Omniboard. It is written into the run's ``omniboard.json``
    unless that file changed since the push too (``reproml tag`` meanwhile): then the store's
    tags and note are kept, and the line says what the board had. A run no longer in the store,
    or another run under its id, is left to `sync_store`.

    Returns:
      one line per run whose tags/note were written back or kept.
    """
    lines = []
    for doc in db.runs.find({"meta.pushed_from.annotations": {"$exists": True}}):
        pushed_from = doc["meta"]["pushed_from"]
        shown, pushed = as_annotations(doc.get("omniboard")), pushed_from["annotations"]
        if shown == pushed or "digest" not in pushed_from:
            continue
        try:
            run = store.get_run(pushed_from["run_id"])
        except CliError:
            continue  # gone from the store: sync_store removes it
        if run_key(run) != pushed_from["key"]:
            continue  # another run under that id
        run_dir = Path(run.location)
        on_disk = as_annotations(read_annotations_file(run_dir))
        if on_disk != pushed:
            lines.append(
                f"run {run.run_id}: tags/note changed both in the board ({shown}) and in "
                f"{run_dir / ANNOTATIONS_FILE} ({on_disk}); kept the store's"
            )
            continue
        unchanged = run_digest(run) == pushed_from["digest"]
        write_annotations_file(run_dir, shown["tags"], shown["notes"])
        fields: dict[str, Any] = {"meta.pushed_from.annotations": shown}
        if unchanged:  # else the run changed since the push: sync_store pushes it again
            fields["meta.pushed_from.digest"] = run_digest(run)
        db.runs.update_one({"_id": doc["_id"]}, {"$set": fields})
        lines.append(
            f"run {run.run_id}: tags {', '.join(shown['tags']) or '-'}, note "
            f"{shown['notes'] or '-'} (edited in the board) saved to {run_dir / ANNOTATIONS_FILE}"
        )
    return lines


def sync_store(
    db: Any, store: FileStore, say: Callable[[str], None] = lambda line: None
) -> tuple[Counter, list[str]]:
    """Make `db` hold exactly the readable runs of `store`, under their file-store ids.

    Each copy is made the board's view of its run (`reproml.board.readable.make_readable`).

    Tags and notes edited in the board since the last sync are first written back
    (`pull_annotations`; its lines go to `say`).

    Returns:
      (how many runs had each outcome: added, updated, unchanged, removed; the store's warnings,
      then one line naming the runs left out: tampered, or with an unsafe name in run.json).

    Raises:
      CliError: the store is missing or empty, or a run's source or artifact file is missing.
    """
    for line in pull_annotations(db, store):
        say(line)
    runs, warnings = store.list_runs()
    keys = {run_key(run) for run in runs}
    counts: Counter = Counter()
    for doc in db.runs.find({}, {"meta.pushed_from.key": 1}):
        if ((doc.get("meta") or {}).get("pushed_from") or {}).get("key") not in keys:
            delete_run(db, doc["_id"])
            counts["removed"] += 1
    left_out = []
    for run in runs:
        try:
            outcome, run_id = push_run(db, run, store.root, keep_id=True)
        except (TamperedRunError, UnsafeNameError) as err:
            left_out.append(str(err))
            # A copy pushed before the record was edited is not the record any more.
            for doc in db.runs.find({"meta.pushed_from.key": run_key(run)}, {"_id": 1}):
                delete_run(db, doc["_id"])
                counts["removed"] += 1
            continue
        make_readable(db, run_id, run)
        counts[outcome] += 1
    db.runs.update_many(
        {"format": {"$ne": FILE_STORE_FORMAT}}, {"$set": {"format": FILE_STORE_FORMAT}}
    )
    if left_out:
        warnings = [*warnings, f"not shown, {len(left_out)} run(s): " + " | ".join(left_out)]
    return counts, warnings
