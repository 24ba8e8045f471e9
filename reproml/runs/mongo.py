"""The one MongoDB client module: which database holds the runs, how to reach it, how to name it.

Both sides use it: a live run (Sacred's ``-m`` flag or ``REPROML_MONGO_URL``, see
`reproml.tracking.observers`) and the ``reproml`` CLI (``--mongo URL``). A target is parsed in
one of two ways, both by the libraries that own the syntax:

* Sacred's ``-m [HOST:PORT:]DB`` by ``sacred.observers.mongo.parse_mongo_db_arg`` (so ``-m``
  means here exactly what it means to Sacred; ``HOST:PORT`` alone is Sacred's db ``sacred``);
* a ``mongodb://[user:password@]host[:port][/db]`` URL by pymongo's ``parse_uri`` (db
  ``reproml`` when the URL names none).

`connect` pings the server with a short timeout, so an unreachable server fails in seconds with
one line naming the host (never the password), instead of hanging for pymongo's 30 s. A server
that answers but refuses the credentials (MongoDB's error code 18, ``AuthenticationFailed``) is
named as such, with the user, so a wrong password is never reported as a wrong address.
"""

from __future__ import annotations

import dataclasses
import os
import re
from typing import Any

from reproml.errors import MongoAuthenticationError
from reproml.errors import MongoUnreachableError
from reproml.errors import ReproMLError
from reproml.runs.scrub import redact_url, secrets_from_url

URL_ENV = "REPROML_MONGO_URL"
DEFAULT_DB = "reproml"
TIMEOUT_MS = 3000
AUTHENTICATION_FAILED = 18  # MongoDB's error code "AuthenticationFailed"


@dataclasses.dataclass(frozen=True)
class MongoTarget:
    """A MongoDB database that holds runs.

    Attributes:
      url: the connection URL given to pymongo (may hold credentials: never recorded or shown).
      db_name: the database holding ``runs``, ``metrics`` and GridFS ``fs.*``.
      source: where the target came from, for messages (``-m flag``, ``--mongo``, the env var).
    """

    url: str
    db_name: str
    source: str

    @property
    def hosts(self) -> str:
        """The ``host:port`` part of the URL, without credentials."""
        netloc = self.url.split("://", 1)[-1].split("/", 1)[0]
        return netloc.rsplit("@", 1)[-1]

    @property
    def user(self) -> str | None:
        """The user name in the URL (None: no credentials), never the password."""
        from pymongo.uri_parser import parse_uri

        return parse_uri(self.url, warn=True).get("username")

    @property
    def display(self) -> str:
        """``host:port/db``: how messages and run records name this store."""
        return f"{self.hosts}/{self.db_name}"


def target_from_flag(flag: str) -> MongoTarget:
    """Parse Sacred's ``-m`` value (``DB``, ``HOST:PORT`` or ``HOST:PORT:DB``) with Sacred's parser.

    Raises:
      MongoUnreachableError: the value has none of Sacred's forms.
    """
    from sacred.observers.mongo import get_pattern, parse_mongo_db_arg

    flag = flag.strip()
    if re.match(get_pattern(), flag) is None:  # Sacred's own parser fails with AttributeError
        raise MongoUnreachableError(
            f"-m {flag!r} is not a MongoDB address: expected DB, HOST:PORT or HOST:PORT:DB"
        )
    kwargs = parse_mongo_db_arg(flag)
    url = kwargs.get("url", "localhost:27017")
    return MongoTarget(f"mongodb://{url}", kwargs.get("db_name", "sacred"), "-m flag")


def target_from_url(url: str, source: str = URL_ENV) -> MongoTarget:
    """Build a target from a ``mongodb://`` URL (pymongo's parser); db from its path, else reproml.

    The URL's password is registered with the scrubber, so it is masked wherever it would be
    recorded or printed.

    Raises:
      MongoUnreachableError: the URL is not a MongoDB URL (the message masks the password).
    """
    from pymongo.errors import InvalidURI
    from pymongo.uri_parser import parse_uri

    secrets_from_url(url)
    try:
        parsed = parse_uri(url, warn=True)
    except (InvalidURI, ValueError) as err:
        raise MongoUnreachableError(
            f"{source} {redact_url(url)!r} is not a MongoDB URL ({redact_url(str(err))})"
        ) from None
    return MongoTarget(url, parsed.get("database") or DEFAULT_DB, source)


def target_from_env() -> MongoTarget | None:
    """Return the target of ``REPROML_MONGO_URL``, or None when it is not set."""
    url = os.environ.get(URL_ENV)
    return target_from_url(url, URL_ENV) if url else None


def client_for(target: MongoTarget, timeout_ms: int = TIMEOUT_MS) -> Any:
    """Return a `pymongo.MongoClient` for `target` whose server selection gives up quickly."""
    import pymongo

    return pymongo.MongoClient(
        target.url,
        serverSelectionTimeoutMS=timeout_ms,
        connectTimeoutMS=timeout_ms,
        socketTimeoutMS=max(timeout_ms, 10_000),
    )


def ping(client: Any, target: MongoTarget, timeout_ms: int = TIMEOUT_MS) -> None:
    """Ping the server behind `client`.

    Raises:
      MongoAuthenticationError: the server refused the credentials (names the host and user).
      MongoUnreachableError: no answer within `timeout_ms`; names the host and `target.source`.
    """
    import pymongo
    import pymongo.errors

    try:
        with pymongo.timeout(timeout_ms / 1000):
            client.admin.command("ping")
    except pymongo.errors.PyMongoError as err:
        if is_authentication_failure(err):
            raise MongoAuthenticationError(
                f"MongoDB at {target.hosts} refused the credentials for user "
                f"{target.user or '(none given)'} (authentication failed; from {target.source}): "
                "fix the user name, password or authSource in the URL"
            ) from None
        first = (str(err).splitlines() or [type(err).__name__])[0]
        reason = redact_url(first.split(", Timeout:")[0].split(" (configured timeouts")[0])
        raise MongoUnreachableError(
            f"could not reach MongoDB at {target.hosts} (from {target.source}) within "
            f"{timeout_ms / 1000:g} s: {type(err).__name__}: {reason[:200]}. Start MongoDB "
            f"there or fix the address (runs recorded without MongoDB stay in the file store)"
        ) from None


def is_authentication_failure(err: BaseException) -> bool:
    """Whether `err` is pymongo's report of a server refusing the credentials (code 18)."""
    import pymongo.errors

    if not isinstance(err, pymongo.errors.OperationFailure):
        return False
    return err.code == AUTHENTICATION_FAILED or "authentication failed" in str(err).lower()


def connect(target: MongoTarget, timeout_ms: int = TIMEOUT_MS) -> Any:
    """Connect to `target`, ping it, and return its `pymongo.database.Database`.

    Raises:
      MongoUnreachableError: no answer within `timeout_ms` (the message names the host).
    """
    client = client_for(target, timeout_ms)
    try:
        ping(client, target, timeout_ms)
    except MongoUnreachableError:
        client.close()
        raise
    return client[target.db_name]


def gridfs_of(database: Any) -> Any:
    """Return the GridFS bucket (``fs.files`` / ``fs.chunks``) Sacred's MongoObserver writes to."""
    import gridfs

    return gridfs.GridFS(database)
