"""What ``reproml board`` starts, in order, and how it stops it all (reverse order).

* ``--mongo URL`` (or ``$REPROML_MONGO_URL``): ping that database, start the dashboard on it.
* else the file store (``--store``, default ``runs/``): start ``secantusd-py`` on
  ``<store>/.board/db``, sync the store's runs into it (`reproml.board.database.sync_store`),
  start the dashboard on it. Stopping first writes the tags and notes edited in Omniboard back
  into the file store (`reproml.board.database.pull_annotations`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
from collections.abc import Callable
from pathlib import Path

from reproml.board import database as board_db
from reproml.board.omniboard import cache_root, ensure_omniboard, mongo_uri, start_omniboard
from reproml.board.processes import Child, check_port_free, free_port
from reproml.board.sacredboard import ensure_sacredboard, start_sacredboard
from reproml.runs.file_store import FileStore
from reproml.runs.mongo import MongoTarget, connect

BOARD_DIR = ".board"


@dataclasses.dataclass
class Board:
    """A running dashboard.

    Attributes:
      url: where to open it.
      children: the processes started, in start order.
      database: the ``mongodb://`` URL (without credentials shown) the dashboard reads.
    """

    url: str
    children: list[Child]
    database: str
    before_stop: Callable[[], None] | None = None

    def dead_child(self) -> Child | None:
        """Return a child that has exited, if any (the dashboard no longer works)."""
        return next((child for child in self.children if not child.running()), None)

    def stop(self) -> None:
        """Run `before_stop`, then stop every child, last started first; returns once all are gone."""
        try:
            if self.before_stop is not None:
                self.before_stop()
        finally:
            for child in reversed(self.children):
                child.stop()


def start_board(
    store: str | Path,
    target: MongoTarget | None = None,
    port: int | None = None,
    sacredboard: bool = False,
    say: Callable[[str], None] = print,
) -> Board:
    """Start the dashboard on `target`, or on the runs of the file store `store`.

    Args:
      store: the file store directory (used when `target` is None).
      target: a MongoDB database that holds runs.
      port: the dashboard's port on 127.0.0.1; None picks a free one.
      sacredboard: Sacredboard 0.4.2 instead of Omniboard.
      say: where progress lines go.

    Raises:
      BoardError: a missing Node.js/npm/secantusd-py, a taken port, a server that did not start.
      MongoUnreachableError: `target` does not answer.
      CliError: the file store is missing, empty, or holds a run with missing files.
    """
    # Everything that can be missing is checked before any server starts.
    if port is not None:
        check_port_free(port)
    if target is None:
        FileStore(store).list_runs()  # a missing or empty store
        board_db.find_server()
    else:
        connect(target).client.close()  # unreachable: one line naming the host
    script = ensure_sacredboard(say) if sacredboard else ensure_omniboard(say=say)
    port = port if port is not None else free_port()
    children: list[Child] = []
    try:
        if target is None:
            root = Path(store)
            log_dir = root / BOARD_DIR
            server, url = board_db.start_server(log_dir / "db", log_dir)
            children.append(server)
            db_name = board_db.DB_NAME
            target = MongoTarget(url, db_name, "reproml board")
            db = connect(target)
            try:
                counts, warnings = board_db.sync_store(db, FileStore(root), say)
            finally:
                db.client.close()
            for line in warnings:
                say(f"warning: {line}")
            summary = ", ".join(f"{n} {what}" for what, n in sorted(counts.items()))
            say(f"runs of {root} in the board's database ({summary})")
            shown = url
            before_stop = functools.partial(_pull_annotations, target, FileStore(root), say)
        else:
            log_dir = cache_root() / "board" / f"port-{port}"
            url, db_name, shown = target.url, target.db_name, target.display
            before_stop = None
        if sacredboard:
            child, board_url = start_sacredboard(script, url, db_name, port, log_dir)
        else:
            child, board_url = start_omniboard(script, mongo_uri(url, db_name), port, log_dir)
        children.append(child)
    except BaseException:
        for child in reversed(children):
            with contextlib.suppress(Exception):
                child.stop()
        raise
    return Board(board_url, children, shown, before_stop)


def _pull_annotations(target: MongoTarget, store: FileStore, say: Callable[[str], None]) -> None:
    """Write the tags and notes edited in the board back into `store` (before it stops).

    When that fails (e.g. the database server died) it says so: the edits stay in the board's
    database, and the next ``reproml board`` on the store writes them back before its sync.
    """
    try:
        db = connect(target)
        try:
            for line in board_db.pull_annotations(db, store):
                say(line)
        finally:
            db.client.close()
    except Exception as err:  # noqa: BLE001 (said, and retried by the next start)
        say(
            f"warning: tags/notes edited in the board were not saved to {store.root} ({err}); "
            f"the next `reproml --store {store.root} board` saves them"
        )
