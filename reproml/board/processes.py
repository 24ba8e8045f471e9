"""Server processes started by ``reproml board``: start, wait until ready, stop (nothing left).

Each child runs in a session of its own, so a Ctrl-C in the terminal reaches ``reproml`` only,
which then stops the children in reverse order of their start (Omniboard before its database).
On Linux each child also gets SIGTERM from the kernel if ``reproml`` itself dies (even by
SIGKILL), so no server outlives the command that started it.
"""

from __future__ import annotations

import ctypes
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from reproml.errors import BoardError

PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:  # runs in the child between fork and exec
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


class Child:
    """A server process with its output in a log file.

    Args:
      name: how messages name it (``Omniboard``, ``secantusd-py``, ...).
      argv: the command line.
      log_path: where its stdout and stderr go (truncated).
      env: its environment (default: ours).
    """

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        log_path: Path,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.name, self.log_path = name, Path(log_path)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=dict(env) if env is not None else None,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )

    @property
    def pid(self) -> int:
        """The process id."""
        return self.proc.pid

    def running(self) -> bool:
        """True while the process has not exited."""
        return self.proc.poll() is None

    def log_text(self) -> str:
        """Everything the process printed so far."""
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def last_line(self) -> str:
        """The last non-empty line it printed (for one-line error messages)."""
        lines = [line.strip() for line in self.log_text().splitlines() if line.strip()]
        return lines[-1][:300] if lines else "(no output)"

    def wait_for(
        self, pattern: str, timeout: float, what: str, fail: str | None = None
    ) -> re.Match:
        """Wait until the log matches `pattern`; return the match.

        Args:
          pattern: a regular expression searched in the whole log.
          timeout: seconds to wait.
          what: what the line means, for messages (``ready``, ``connected``).
          fail: a pattern that means it will never get there (stop waiting at once).

        Raises:
          BoardError: it exited, printed `fail`, or timed out first (names its log).
        """
        deadline = time.monotonic() + timeout
        while True:
            text = self.log_text()
            if fail and (bad := re.search(fail, text)):
                raise BoardError(f"{self.name} failed before it was {what}: {bad.group(0)}")
            match = re.search(pattern, text)
            if match:
                return match
            if not self.running():
                raise BoardError(
                    f"{self.name} exited (code {self.proc.returncode}) before it was {what}: "
                    f"{self.last_line()} (log: {self.log_path})"
                )
            if time.monotonic() > deadline:
                raise BoardError(
                    f"{self.name} was not {what} within {timeout:g} s: {self.last_line()} "
                    f"(log: {self.log_path})"
                )
            time.sleep(0.1)

    def stop(self, timeout: float = 15.0) -> None:
        """Send SIGTERM to its process group; SIGKILL after `timeout` s. Returns once it is gone."""
        if self.running():
            _signal_group(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                _signal_group(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        # Anything it started in its group goes too (Omniboard and secantusd-py start none).
        _signal_group(self.proc.pid, signal.SIGKILL)


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port nobody listens on at `host` right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def check_port_free(port: int, host: str = "127.0.0.1") -> None:
    """Refuse a port that is taken (Omniboard would quietly move to the next one).

    Raises:
      BoardError: the port is in use or not a valid port number.
    """
    if not 0 < port < 65536:
        raise BoardError(f"--port {port}: expected a TCP port between 1 and 65535")
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as Node's listen does
        try:
            sock.bind((host, port))
        except OSError as err:
            raise BoardError(
                f"port {port} on {host} is in use ({err.strerror}): pass another --port, or omit "
                "--port to use a free one"
            ) from None
