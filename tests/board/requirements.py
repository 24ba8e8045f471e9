"""The one rule for the board tests' system requirements (Node.js, Chromium, Playwright).

Locally a missing piece skips the test with one line saying what to install; in CI
(``CI=true``) nothing may skip: the same line fails the test.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

CHROMIUM_ENV = "REPROML_CHROMIUM"
CHROMIUM_PATHS = ("/usr/lib/chromium/chromium", "/usr/bin/chromium", "/usr/bin/chromium-browser")
# Debian's Chromium in a container: no sandbox (no user namespaces), no GPU, nothing online.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def in_ci() -> bool:
    """True when ``CI=true`` (any case): missing requirements fail instead of skipping."""
    return os.environ.get("CI", "").lower() == "true"


def missing(line: str) -> None:
    """Skip (locally) or fail (in CI) with `line`."""
    if in_ci():
        pytest.fail(f"CI=true and {line}", pytrace=False)
    pytest.skip(line)


def require_node() -> str:
    """Return Node.js's ``node`` (>= 18) or skip/fail saying how to install it."""
    from reproml.board.omniboard import find_node
    from reproml.errors import BoardError

    try:
        return find_node()
    except BoardError as err:
        missing(str(err))


def require_chromium() -> str:
    """Return Chromium's executable (``$REPROML_CHROMIUM`` or Debian's) or skip/fail."""
    candidates = [os.environ[CHROMIUM_ENV]] if os.environ.get(CHROMIUM_ENV) else CHROMIUM_PATHS
    for path in candidates:
        if Path(path).is_file() and os.access(path, os.X_OK):
            return path
    missing(
        "Chromium is not installed (no "
        + ", ".join(candidates)
        + "): sudo apt-get install chromium, or set $REPROML_CHROMIUM"
    )


def require_playwright() -> None:
    """Skip/fail unless the ``playwright`` Python package is importable."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing("playwright is not installed: pip install -c constraints.txt -e '.[test]'")


def require_npm() -> str:
    """Return ``npm`` or skip/fail saying how to install it (Omniboard's install needs it)."""
    npm = shutil.which("npm")
    if npm is None:
        missing("npm is not installed: sudo apt-get install npm")
    return npm
