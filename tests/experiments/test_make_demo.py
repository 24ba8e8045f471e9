"""`make demo` as a newcomer runs it: no TensorFlow log line, and each command it prints works.

Make's own ``demo`` recipe runs (``make -o install demo``: the virtualenv of this interpreter
as ``BIN``, already installed), with ``DEMO_ARGS="with quick ..."`` (seconds, not minutes) and
a runs dir of its own, from a shell whose PATH does not hold the virtualenv and which sets no
``TF_CPP_MIN_LOG_LEVEL``. Each command it prints is then run in ``bash`` exactly as printed,
from the repository root: the servers (TensorBoard, ``reproml board``) until they serve the
run, then Ctrl-C; the activation line followed by the bare commands it promises.
"""

from __future__ import annotations

import re
import shlex
import subprocess

import pytest

from tests.experiments.newcomer import (
    REPO,
    VENV_BIN,
    check_printed_board,
    check_printed_tensorboard,
    printed_commands,
    tensorflow_lines,
    user_env,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """``make demo`` (quick) with runs in a temporary directory: (runs dir, env, make's output)."""
    tmp = tmp_path_factory.mktemp("make-demo")
    env = {**user_env(tmp), "REPROML_RUNS_DIR": str(tmp / "runs")}
    args = f"with quick dataset.data_dir={tmp / 'records'}"
    proc = subprocess.run(
        ["make", "--no-print-directory", "-o", "install", "demo", f"BIN={VENV_BIN}",
         f"DEMO_ARGS={args}"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    # The run's environment is the user's: `make demo` must not need the virtualenv on PATH.
    env.pop("REPROML_RUNS_DIR")
    return tmp / "runs", env, proc


def test_make_demo_prints_no_tensorflow_line(demo):
    _, _, proc = demo
    assert f"{VENV_BIN}/python -m experiments.mnist with quick" in proc.stdout  # make's echo
    assert tensorflow_lines(proc.stdout + proc.stderr) == []
    assert "Completed after" in proc.stderr
    assert re.search(r"^test accuracy: 0\.\d+$", proc.stdout, flags=re.MULTILINE), proc.stdout


def test_make_demo_prints_its_commands_with_their_full_paths(demo):
    runs, _, proc = demo
    printed = printed_commands(proc.stdout)
    # A script under the working directory (make demo runs in the checkout) is named relative to
    # it, as a fresh clone's .venv/bin/reproml; elsewhere by its absolute path.
    shown = VENV_BIN.relative_to(REPO) if VENV_BIN.is_relative_to(REPO) else VENV_BIN
    assert printed == {
        "tensorboard": f"{shown}/tensorboard --logdir {runs}/1/model",
        "board": f"{shown}/reproml --store {runs} board",
        "activate": f"source {VENV_BIN}/activate",
    }


def test_the_printed_tensorboard_command_serves_the_run(demo):
    _, env, proc = demo
    check_printed_tensorboard(proc.stdout, env, REPO)


def test_the_printed_board_command_serves_the_run(demo):
    _, env, proc = demo
    check_printed_board(proc.stdout, env, REPO, "mnist")


def test_after_the_printed_activation_line_the_bare_names_work(demo):
    runs, env, proc = demo
    activate = printed_commands(proc.stdout)["activate"]
    # This shell cannot find `reproml` before the activation line; it can after it.
    assert subprocess.run(["bash", "-c", "command -v reproml"], env=env).returncode != 0
    script = f"{activate}\ncommand -v reproml tensorboard python\n"
    script += f"reproml --store {shlex.quote(str(runs))} runs\n"
    proc = subprocess.run(
        ["bash", "-c", script], cwd=REPO, env=env, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr
    found = proc.stdout.splitlines()
    assert found[:3] == [f"{VENV_BIN}/reproml", f"{VENV_BIN}/tensorboard", f"{VENV_BIN}/python"]
    assert re.search(r"^1\s+mnist\s+COMPLETED", proc.stdout, flags=re.MULTILINE), proc.stdout
    assert tensorflow_lines(proc.stdout + proc.stderr) == []
