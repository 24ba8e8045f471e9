"""A real MongoDB-protocol server for the tests: SecantusDB on a free 127.0.0.1 port.

SecantusDB (PyPI ``secantusdb``, GPL-2.0) speaks MongoDB's wire protocol over WiredTiger. The
tests import it (a test dependency); reproml itself only ever starts it as a separate process.
``REPROML_TEST_MONGO_URL`` points the tests at a MongoDB of your own instead (e.g. a real
``mongod``: ``mongodb://127.0.0.1:27017``); every test still gets a database of its own.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import uuid
from collections.abc import Callable, Iterator

TEST_MONGO_ENV = "REPROML_TEST_MONGO_URL"


@dataclasses.dataclass
class Server:
    """A running server: its ``mongodb://127.0.0.1:PORT`` URL, and how to stop it (kill it)."""

    url: str
    stop: Callable[[], None]


@contextlib.contextmanager
def secantus_server(storage_path: str) -> Iterator[Server]:
    """Start SecantusDB on a free 127.0.0.1 port; stopped at exit (if not stopped already)."""
    from secantus import SecantusDBServer

    with SecantusDBServer(host="127.0.0.1", port=0, storage_path=storage_path) as server:
        yield Server(server.uri.rstrip("/"), server.stop)


@contextlib.contextmanager
def server_url(storage_path: str) -> Iterator[str]:
    """The user's server (``$REPROML_TEST_MONGO_URL``) or a fresh SecantusDB: its URL."""
    url = os.environ.get(TEST_MONGO_ENV)
    if url:
        yield url.rstrip("/")
        return
    with secantus_server(storage_path) as server:
        yield server.url


def database_url(server: str, prefix: str = "t") -> str:
    """A URL naming a database no other test uses."""
    return f"{server}/{prefix}_{uuid.uuid4().hex[:12]}"
