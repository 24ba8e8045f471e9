"""Sacredboard 0.4.2 (PyPI ``sacredboard``, MIT) in a venv of its own: it needs pymongo < 4.

Installed once into ``$REPROML_CACHE/sacredboard/0.4.2/`` with the versions below (the
setuptools pin: the venv's bundled setuptools cannot load gevent's entry points). It is started
through `reproml/board/sacredboard_launcher.py` (by the venv's Python), on a MongoDB database:

* on the file store, the board's SecantusDB holding the store's runs (as for Omniboard): the
  launcher replaces Sacredboard's ``$where`` status filters (server-side JavaScript, which
  SecantusDB does not run) by plain heartbeat queries, and shows dict results as one line;
* on ``--mongo URL``, that database.

Its own file-store reader (``-F``, "experimental") is not used: it fails on runs without
``stop_time`` (every RUNNING run) and reads no metrics.
"""

from __future__ import annotations

import contextlib
import fcntl
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from reproml.board.omniboard import cache_root
from reproml.board.processes import Child
from reproml.errors import BoardError

VERSION = "0.4.2"
PINS = (
    f"sacredboard=={VERSION}",
    "pymongo==3.13.0",
    "setuptools==80.10.2",
    "blinker==1.9.0",
    "click==8.5.1",
    "Flask==3.1.3",
    "gevent==26.9.0",
    "greenlet==3.5.6",
    "itsdangerous==2.2.0",
    "Jinja2==3.1.6",
    "MarkupSafe==3.0.4",
    "simplejson==4.3.0",
    "Werkzeug==3.1.9",
    "zope.event==6.2",
    "zope.interface==8.7",
)
READY = r"Starting sacredboard on port (\d+)"
START_TIMEOUT = 60.0
LAUNCHER = Path(__file__).with_name("sacredboard_launcher.py")


def install_dir() -> Path:
    """Return where Sacredboard's venv is (or will be) installed."""
    return cache_root() / "sacredboard" / VERSION


def is_installed() -> bool:
    """True when Sacredboard's venv is completely installed (nothing to download)."""
    return (install_dir() / ".complete").is_file()


def ensure_sacredboard(say: Callable[[str], None] = print) -> Path:
    """Create Sacredboard's venv unless it exists; return its ``sacredboard`` script.

    A venv's scripts name its own path, so it is built in place; a ``.complete`` file marks a
    finished install (an unfinished one is removed and built again).

    Raises:
      BoardError: the venv or the pip install failed (names the log).
    """
    target = install_dir()
    script, done = target / "bin" / "sacredboard", target / ".complete"
    if done.is_file():
        return script
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / f"{VERSION}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if done.is_file():
            return script
        shutil.rmtree(target, ignore_errors=True)
        say(f"installing Sacredboard {VERSION} into {target} (once) ...")
        log_path = target.parent / f"{VERSION}.pip.log"
        steps = (
            [sys.executable, "-m", "venv", str(target)],
            [str(target / "bin" / "python"), "-m", "pip", "install", "-q", *PINS],
        )
        with open(log_path, "wb") as log:
            for argv in steps:
                if subprocess.run(argv, stdout=log, stderr=subprocess.STDOUT).returncode:
                    lines = log_path.read_text(errors="replace").strip().splitlines() or ["-"]
                    shutil.rmtree(target, ignore_errors=True)
                    raise BoardError(
                        f"installing Sacredboard failed: {lines[-1][:200]} (log: {log_path}); "
                        "check that the package registry is reachable and retry"
                    )
        done.write_text(" ".join(PINS) + "\n", encoding="utf-8")
    return script


def start_sacredboard(
    script: Path, url: str, db_name: str, port: int, log_dir: Path
) -> tuple[Child, str]:
    """Start Sacredboard on database `db_name` of `url` at `port`; return (child, its URL).

    `script` is the venv's ``sacredboard``; it runs as `LAUNCHER` by the venv's ``python``.

    Raises:
      BoardError: it exited, took another port or was not ready in time (names its log).
    """
    python = script.parent / "python"
    # -I: no PYTHONPATH, no script directory on sys.path (this one holds sacredboard.py);
    # -u: its "Starting sacredboard on port" line unbuffered (-I ignores PYTHONUNBUFFERED)
    argv = [str(python), "-I", "-u", str(LAUNCHER), "-mu", url, db_name]
    argv += ["--port", str(port), "--no-browser"]
    child = Child("Sacredboard", argv, log_dir / "sacredboard.log")
    try:
        started = child.wait_for(READY, START_TIMEOUT, "listening")
        if int(started.group(1)) != port:
            raise BoardError(f"Sacredboard took port {started.group(1)} instead of {port}")
    except BaseException:
        with contextlib.suppress(Exception):
            child.stop()
        raise
    return child, f"http://127.0.0.1:{port}/runs"
