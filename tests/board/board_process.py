"""Run ``reproml board`` as a user does: a process of its own, its URL read from its output."""

from __future__ import annotations

import contextlib
import os
import re
import selectors
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

URL_LINE = re.compile(r"(Omniboard|Sacredboard) on (\S+): (http://127\.0\.0\.1:(\d+)/\S*)")
START_TIMEOUT = 180.0  # includes Omniboard's npm ci when the cache is cold


class BoardProcess:
    """A running ``reproml ... board``: its URL, its child pids, and how to stop it."""

    def __init__(
        self, args: list[str], log: Path, env: dict | None = None, cwd: Path | None = None
    ) -> None:
        self.log = log
        self.err = open(log, "wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "reproml.cli.main", *args],
            stdout=subprocess.PIPE,
            stderr=self.err,
            env={**os.environ, **(env or {})},
            text=True,
            cwd=cwd,
        )
        self.url = self.database = ""
        self.port = 0
        self.output: list[str] = []

    def wait_ready(self, timeout: float = START_TIMEOUT) -> None:
        """Read its stdout until the URL line; fail with its stderr if it exits first."""
        selector = selectors.DefaultSelector()
        selector.register(self.proc.stdout, selectors.EVENT_READ)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if selector.select(timeout=1.0):
                line = self.proc.stdout.readline()
                if not line:
                    break
                self.output.append(line)
                match = URL_LINE.search(line)
                if match:
                    self.database, self.url, self.port = match[2], match[3], int(match[4])
                    return
            elif self.proc.poll() is not None:
                break
        self.stop(signal.SIGKILL)
        raise AssertionError(f"reproml board did not start: {self.stderr()}{''.join(self.output)}")

    def stderr(self) -> str:
        return self.log.read_text(errors="replace")

    def child_pids(self) -> list[int]:
        """The processes it started (Linux: /proc/PID/task/PID/children)."""
        path = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
        return [int(pid) for pid in path.read_text().split()] if path.exists() else []

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> int:
        """Send `sig` and wait for it to exit; return its exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stdout.close()
        self.err.close()
        return self.proc.returncode


def alive(pid: int) -> bool:
    """True while `pid` exists and is not a zombie."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


def wait_gone(pids: list[int], timeout: float = 15.0) -> list[int]:
    """Wait until none of `pids` is alive; return those still alive after `timeout` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(alive(p) for p in pids):
        time.sleep(0.1)
    return [p for p in pids if alive(p)]


@contextlib.contextmanager
def running_board(
    args: list[str], log: Path, env: dict | None = None, cwd: Path | None = None
) -> Iterator[BoardProcess]:
    """Start ``reproml ARGS`` (a board command), yield it once ready, SIGTERM it at exit.

    At exit it also checks that every process it started is gone.
    """
    board = BoardProcess(args, log, env, cwd)
    try:
        board.wait_ready()
        children = board.child_pids()
        yield board
    finally:
        code = board.stop()
    assert code == 0, board.stderr()
    assert wait_gone(children) == [], f"still running after reproml board stopped: {children}"
