"""A newcomer's shell: no activated virtualenv, no TensorFlow log level; printed commands run in it.

`user_env` is the environment of a terminal where ``.venv`` is not activated (as after
``make demo``); `tensorflow_lines` finds TensorFlow's start-up/log lines in what a command
printed; `printed_commands` reads the commands a run prints at its end; `served` runs a
printed server command in ``bash`` exactly as printed and stops it with Ctrl-C (SIGINT to its
process group), as the user does; `check_printed_tensorboard` and `check_printed_board` run the
TensorBoard and ``reproml board`` commands a run printed and check that they serve its run 1.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from tests.board.board_process import wait_gone
from tests.board.requirements import require_node

VENV_BIN = Path(sys.executable).parent
REPO = Path(__file__).resolve().parents[2]
# Words of TensorFlow's C++ start-up lines (oneDNN, cuda drivers, cuDNN/cuFFT/cuBLAS "Unable to
# register", CPU features, TensorRT) and of absl's pre-init warning.
TF_START_UP = (
    "cuda",
    "cuDNN",
    "cuFFT",
    "cuBLAS",
    "cpu_feature_guard",
    "This TensorFlow binary is optimized",
    "TF-TRT",
    "oneDNN",
    "absl::InitializeLog",
)
# Any TensorFlow C++ log line ("2026-11-21 11:40:26.878647: I tensorflow/...", also glog's
# "W0000 00:00:..." form), the line that continues its CPU-feature message, and Python's
# `tf_logging`/absl lines ("W tensorflow", "WARNING:tensorflow:", "WARNING:absl:").
TF_LOG_LINE = re.compile(
    r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+: [IWEF] |^[IWEF]\d{4} \d\d:\d\d:\d\d|"
    r"^To enable the following|^[IWEF] tensorflow|^(WARNING|INFO|ERROR):(tensorflow|absl):"
)
# What a run prints last (reproml/tracking/printed_commands.py) and make demo's activation hint.
TENSORBOARD_LINE = re.compile(r"^TensorBoard: (.*)$", re.MULTILINE)
BROWSER_LINE = re.compile(r"^Browser: `(.*)` shows the runs of the file store in Omniboard$", re.M)
ACTIVATE_LINE = re.compile(r"^To type reproml, tensorboard and python without \S+: (.*)$", re.M)
# The line each server prints once it serves.
TENSORBOARD_READY = re.compile(r"TensorBoard \S+ at (http://\S+) ")
BOARD_READY = re.compile(r"Omniboard on \S+: (http://127\.0\.0\.1:\d+/\S*)")


def user_env(home: Path) -> dict[str, str]:
    """The environment of a shell where .venv is not activated and TensorFlow's level not set."""
    drop = ("TF_CPP_MIN_LOG_LEVEL", "VIRTUAL_ENV", "REPROML_RUNS_DIR", "REPROML_MONGO_URL")
    drop += ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")  # the tests may run under `make test`
    env = {k: v for k, v in os.environ.items() if k not in drop}
    paths = os.environ.get("PATH", "/usr/bin:/bin").split(os.pathsep)
    env["PATH"] = os.pathsep.join(
        p for p in paths if not Path(p).exists() or Path(p).resolve() != VENV_BIN.resolve()
    )
    env["PYTHONPATH"] = str(REPO)  # this checkout, as its editable install would give
    env["HOME"] = os.environ.get("HOME", str(home))
    return env


def tensorflow_lines(output: str) -> list[str]:
    """The lines of `output` that TensorFlow (or absl) printed at start-up or logged."""
    return [
        line
        for line in output.splitlines()
        if TF_LOG_LINE.match(line) or any(word in line for word in TF_START_UP)
    ]


def printed_commands(stdout: str) -> dict[str, str]:
    """The commands a run printed: ``tensorboard``, ``board`` and (make demo) ``activate``."""
    found = {
        "tensorboard": TENSORBOARD_LINE.findall(stdout),
        "board": BROWSER_LINE.findall(stdout),
        "activate": ACTIVATE_LINE.findall(stdout),
    }
    return {name: lines[-1] for name, lines in found.items() if lines}


def _children(pid: int) -> list[int]:
    """Every descendant of `pid` (Linux: /proc/PID/task/PID/children)."""
    path = Path(f"/proc/{pid}/task/{pid}/children")
    direct = [int(child) for child in path.read_text().split()] if path.exists() else []
    return direct + [grandchild for child in direct for grandchild in _children(child)]


@contextlib.contextmanager
def served(
    command: str, env: dict[str, str], cwd: Path, ready: re.Pattern, timeout: float = 240.0
) -> Iterator[tuple[str, list[str]]]:
    """Run `command` in ``bash`` as printed until it prints `ready`; yield (URL, output lines).

    A terminal shows each line as it is printed; through a pipe Python would hold them in its
    buffer, so ``PYTHONUNBUFFERED=1`` is set. At exit: Ctrl-C (SIGINT to its process group, as
    a terminal sends it); every process it started must be gone within 30 s.
    """
    proc = subprocess.Popen(
        ["bash", "-c", command],
        cwd=cwd,
        env={**env, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    lines: list[str] = []  # read by a thread: a text pipe's buffer can hide lines from select()

    def read() -> None:
        for line in proc.stdout:
            lines.append(line.rstrip("\n"))

    reader = threading.Thread(target=read)
    reader.start()
    deadline = time.monotonic() + timeout
    url = pids = None
    try:
        while url is None and time.monotonic() < deadline and proc.poll() is None:
            url = next((m[1] for line in list(lines) if (m := ready.search(line))), None)
            time.sleep(0.2)
        assert url, f"`{command}` did not start:\n" + "\n".join(lines[-40:])
        pids = _children(proc.pid)
        yield url, lines
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        reader.join(timeout=30)
    assert wait_gone(pids, timeout=30) == [], f"`{command}` left processes running: {pids}"


def get(url: str) -> bytes:
    """GET `url` (a local server) and return its body."""
    with urllib.request.urlopen(url, timeout=60) as response:
        return response.read()


def check_printed_tensorboard(stdout: str, env: dict[str, str], cwd: Path) -> None:
    """Run the TensorBoard command printed in `stdout` as printed, from `cwd`, until it serves.

    It must show the run's ``eval`` scalars ``loss`` and ``accuracy``.
    """
    command = printed_commands(stdout)["tensorboard"]
    with served(command, env, cwd, TENSORBOARD_READY) as (url, _):
        runs = json.loads(get(f"{url}data/runs"))
        tags = json.loads(get(f"{url}data/plugin/scalars/tags"))
    assert "eval" in runs, runs
    assert "loss" in tags["eval"] and "accuracy" in tags["eval"], tags


def check_printed_board(stdout: str, env: dict[str, str], cwd: Path, experiment: str) -> None:
    """Run the ``reproml board`` command printed in `stdout` as printed, from `cwd`.

    Skipped (failed in CI) without Node.js. Omniboard must list exactly run 1 of `experiment`,
    COMPLETED; the board prints no TensorFlow line and says it stops at Ctrl-C.
    """
    require_node()
    command = printed_commands(stdout)["board"]
    with served(command, env, cwd, BOARD_READY) as (url, lines):
        shown = json.loads(get(f"{url.rstrip('/')}/api/v1/Runs?select=_id,status,experiment"))
    assert [(doc["_id"], doc["status"], doc["experiment"]["name"]) for doc in shown] == [
        (1, "COMPLETED", experiment)
    ]
    assert tensorflow_lines("\n".join(lines)) == []
    assert "stopping ..." in lines
