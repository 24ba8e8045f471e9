"""Removes credentials from anything a run records (config, info, meta, output, artifacts).

Replaced by ``***`` wherever they appear in a string:

* the password of any ``scheme://user:password@host`` URL (also with an empty user name);
* a bare token in the user part, ``scheme://TOKEN@host`` (as git remotes carry access tokens;
  the conventional ``git@`` user is kept);
* the value of a credential query parameter (``?token=``, ``password``, ``access_token``,
  ``sig``, ``X-Amz-Signature``, ...), as data URLs and presigned URLs carry them;
* every secret registered with `add_secret` (the password of ``REPROML_MONGO_URL`` is registered
  as soon as the URL is read).
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote, urlsplit

MASK = "***"

# scheme://user:password@  -> keeps the scheme and user, masks the password (user may be empty).
_URL_PASSWORD = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.\-]*://[^\s/:@'\"]*:)[^\s@/'\"]+@")
# scheme://token@  -> masks a user part without a password (git's own "git@" is kept).
_URL_TOKEN = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.\-]*://)(?!git@)[^\s/:@'\"*]+@")
_QUERY_SECRET = re.compile(
    r"(?P<head>[?&;](?:password|passwd|pwd|pass|token|access_token|auth_token|api_key|apikey|"
    r"secret|client_secret|key|sig|signature|x-amz-signature|x-amz-security-token|"
    r"x-amz-credential|x-goog-signature|x-goog-credential)=)[^&#\s'\"]+",
    re.IGNORECASE,
)
_SECRETS: set[str] = set()
_LOCK = threading.Lock()


def add_secret(secret: str | None) -> None:
    """Register `secret` (and its URL-decoded form) so that `scrub_text` masks it everywhere."""
    if not secret:
        return
    with _LOCK:
        _SECRETS.update({secret, unquote(secret)})


def secrets_from_url(url: str) -> None:
    """Register the user password of `url` (a ``mongodb://user:password@host/db`` URL)."""
    try:
        password = urlsplit(url).password
    except ValueError:
        password = None
    add_secret(password)


def redact_url(url: str) -> str:
    """Return `url` with its password masked, e.g. ``mongodb://me:***@db:27017/x``."""
    return scrub_text(url)


def scrub_text(text: str) -> str:
    """Return `text` with URL passwords and every registered secret replaced by ``***``."""
    text = _URL_PASSWORD.sub(lambda m: m.group("head") + MASK + "@", text)
    text = _URL_TOKEN.sub(lambda m: m.group("head") + MASK + "@", text)
    text = _QUERY_SECRET.sub(lambda m: m.group("head") + MASK, text)
    with _LOCK:
        secrets = sorted(_SECRETS, key=len, reverse=True)
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, MASK)
    return text


def scrub(value: Any) -> Any:
    """Return a copy of `value` (nested dicts/lists/tuples/strings) with credentials masked.

    Dict keys are scrubbed too. Values of other types are returned unchanged.
    """
    if isinstance(value, str):
        return scrub_text(value)
    if isinstance(value, bytes):
        return value
    if isinstance(value, Mapping):
        return {scrub(k): scrub(v) for k, v in value.items()}
    if isinstance(value, list):
        return [scrub(v) for v in value]
    if isinstance(value, tuple):
        return tuple(scrub(v) for v in value)
    return value


_LOG_FACTORY_INSTALLED = False


def install_log_scrubbing() -> None:
    """Mask credentials in every log record of the process (idempotent).

    Wraps the logging record factory: a record whose formatted message contains a URL
    password or a registered secret gets the scrubbed message (and no args), so no handler
    (terminal, file, Sacred's captured output) ever sees the credential.
    """
    global _LOG_FACTORY_INSTALLED
    if _LOG_FACTORY_INSTALLED:
        return
    previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a broken record is logging's business, not ours
            return record
        clean = scrub_text(message)
        if clean != message:
            record.msg, record.args = clean, None
        return record

    logging.setLogRecordFactory(factory)
    _LOG_FACTORY_INSTALLED = True
