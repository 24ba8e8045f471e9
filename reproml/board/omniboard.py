"""Omniboard (npm ``omniboard``, MIT): Node.js, the pinned install, and starting it on a database.

The version is pinned by ``tools/omniboard/package-lock.json`` and installed with
``npm ci --ignore-scripts`` (its only install script prints a banner) into
``$REPROML_CACHE/omniboard/<sha256 of the lock, 16 hex>/`` (default cache
``~/.cache/reproml``): a new lock gets a new folder, an old folder is never changed, and a half
install is never used (it is made in a temp folder and renamed when complete).

Omniboard reads its database from ``$MONGO_URI`` (so a password never shows in ``ps``) and its
port from ``$PORT`` only; it binds every interface and, when the port is taken, quietly moves to
the next one. ``reproml`` preloads a few lines of JavaScript that bind it to 127.0.0.1, and
refuses a port that does not match the one it chose.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from reproml.board.processes import Child
from reproml.errors import BoardError

CACHE_ENV = "REPROML_CACHE"
TOOLS_DIR = Path(__file__).resolve().parents[2] / "tools" / "omniboard"
MIN_NODE = 18
INSTALL_HINT = "install Node.js >= 18 and npm (Debian/Ubuntu: sudo apt-get install nodejs npm)"
READY = r"Omniboard is listening on port (\d+)!"
CONNECTED = r"Connection to \S+ at \S+ established successfully!"
PORT_TAKEN = r"Port \d+ is already in use"
START_TIMEOUT = 90.0

# Omniboard calls app.listen(port): every interface. Bind it to the loopback interface instead.
LOCALHOST_JS = """\
// Written by reproml: bind Omniboard's server to 127.0.0.1 only.
const net = require("net");
const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (...args) {
  if (typeof args[0] === "number" || /^[0-9]+$/.test(String(args[0]))) {
    if (typeof args[1] !== "string") args.splice(1, 0, "127.0.0.1");
  }
  return listen.apply(this, args);
};
"""


def cache_root() -> Path:
    """Return ``$REPROML_CACHE``, else ``$XDG_CACHE_HOME/reproml``, else ``~/.cache/reproml``."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "reproml"


def find_node() -> str:
    """Return the path of a ``node`` >= 18.

    Raises:
      BoardError: no ``node`` on PATH, or an older one.
    """
    node = shutil.which("node")
    if node is None:
        raise BoardError(f"Node.js is not installed (no `node` on PATH): {INSTALL_HINT}")
    version = subprocess.run(
        [node, "--version"], capture_output=True, text=True, check=False
    ).stdout.strip()
    match = re.match(r"v?(\d+)\.", version)
    if match is None or int(match.group(1)) < MIN_NODE:
        raise BoardError(f"{node} is Node.js {version or '(unknown version)'}: {INSTALL_HINT}")
    return node


def lock_digest(tools_dir: Path = TOOLS_DIR) -> str:
    """Return the first 16 hex digits of the sha256 of ``package-lock.json``.

    Raises:
      BoardError: ``package.json`` or ``package-lock.json`` is missing from `tools_dir`.
    """
    for name in ("package.json", "package-lock.json"):
        if not (tools_dir / name).is_file():
            raise BoardError(
                f"{tools_dir / name} is missing: reproml board needs the checkout's "
                "tools/omniboard (install reproml from its git checkout: pip install -e .)"
            )
    return hashlib.sha256((tools_dir / "package-lock.json").read_bytes()).hexdigest()[:16]


def install_dir(tools_dir: Path = TOOLS_DIR) -> Path:
    """Return the folder Omniboard of this lock is (or will be) installed in."""
    return cache_root() / "omniboard" / lock_digest(tools_dir)


def start_script(folder: Path) -> Path:
    """Return Omniboard's ``dist/start.js`` inside an install folder."""
    return folder / "node_modules" / "omniboard" / "dist" / "start.js"


def ensure_omniboard(tools_dir: Path = TOOLS_DIR, say: Callable[[str], None] = print) -> Path:
    """Install Omniboard from the lock unless installed already; return its ``start.js``.

    Safe to run concurrently: one process installs, the others wait for it.

    Raises:
      BoardError: Node.js or npm is missing, or ``npm ci`` failed (names its log).
    """
    find_node()
    target = install_dir(tools_dir)
    script = start_script(target)
    if script.is_file():
        return script
    npm = shutil.which("npm")
    if npm is None:
        raise BoardError(f"npm is not installed (no `npm` on PATH): {INSTALL_HINT}")
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / f"{target.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if script.is_file():  # another process installed it while we waited
            return script
        log_path = target.parent / f"{target.name}.npm-ci.log"
        say(f"installing Omniboard into {target} (npm ci, once; about 1 min) ...")
        started = time.monotonic()
        staging = Path(tempfile.mkdtemp(prefix=f"{target.name}.", dir=target.parent))
        try:
            for name in ("package.json", "package-lock.json"):
                shutil.copy2(tools_dir / name, staging / name)
            with open(log_path, "wb") as log:
                code = subprocess.run(
                    [npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund"],
                    cwd=staging,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    check=False,
                ).returncode
            if code != 0 or not start_script(staging).is_file():
                lines = log_path.read_text(errors="replace").strip().splitlines() or ["-"]
                raise BoardError(
                    f"npm ci of Omniboard failed (exit {code}): {lines[-1][:200]} (log: "
                    f"{log_path}); check that the npm registry is reachable and retry"
                )
            staging.rename(target)
        finally:
            if staging.exists():
                shutil.rmtree(staging, ignore_errors=True)
        say(f"installed Omniboard in {time.monotonic() - started:.0f} s")
    return script


def mongo_uri(url: str, db_name: str) -> str:
    """Return `url` naming database `db_name` (its path), keeping hosts, credentials and options."""
    scheme, rest = url.split("://", 1)
    netloc, _, tail = rest.partition("/")
    query = tail.partition("?")[2]
    return f"{scheme}://{netloc}/{db_name}" + (f"?{query}" if query else "")


def start_omniboard(script: Path, uri: str, port: int, log_dir: Path) -> tuple[Child, str]:
    """Start Omniboard on the database `uri` at 127.0.0.1:`port`; return (child, its URL).

    Returns once it listens and is connected to the database.

    Raises:
      BoardError: it exited, took another port, or did not connect in time (names its log).
    """
    node = find_node()
    log_dir.mkdir(parents=True, exist_ok=True)
    # Absolute: node reads a relative --require as a package name, not a file.
    preload = (log_dir / "omniboard-localhost.js").resolve()
    preload.write_text(LOCALHOST_JS, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != "OMNIBOARD_CONFIG"}
    env.update(PORT=str(port), MONGO_URI=uri, NODE_ENV="production")
    child = Child(
        "Omniboard", [node, "--require", str(preload), str(script)], log_dir / "omniboard.log", env
    )
    try:
        try:
            listening = child.wait_for(READY, START_TIMEOUT, "listening", fail=PORT_TAKEN)
        except BoardError as err:
            if re.search(PORT_TAKEN, str(err)):
                raise BoardError(f"{err}: pass another --port, or omit --port") from None
            raise
        if int(listening.group(1)) != port:
            raise BoardError(f"Omniboard took port {listening.group(1)} instead of {port}")
        child.wait_for(CONNECTED, START_TIMEOUT, "connected to its database")
    except BaseException:
        with contextlib.suppress(Exception):
            child.stop()
        raise
    return child, f"http://127.0.0.1:{port}/sacred"
