"""A newcomer's own experiment, outside the repository: quiet start-up, commands that work as printed.

The recipe of docs/experiments.md is copied to a directory outside the checkout and run as
``python shapes.py`` with a PATH that does not hold the virtualenv (as after ``make demo``,
without ``source .venv/bin/activate``) and no ``TF_CPP_MIN_LOG_LEVEL`` of the user's. The
TensorBoard and ``reproml board`` commands it prints then run in ``bash`` exactly as printed,
from that directory, until they serve the run (then Ctrl-C).
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from reproml.tracking.printed_commands import board_command, executable, runnable
from tests.experiments.newcomer import (
    REPO,
    VENV_BIN,
    check_printed_board,
    check_printed_tensorboard,
    printed_commands,
    tensorflow_lines,
    user_env,
)
from tests.experiments.shapes_recipe import write_recipe_and_images

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def user_run(tmp_path_factory):
    """The docs' recipe run once as ``python shapes.py with ...`` from a directory of its own."""
    home = tmp_path_factory.mktemp("newcomer")
    assert REPO not in home.parents
    write_recipe_and_images(home)  # shapes.py, and its images in data/shapes
    env = user_env(home)
    proc = subprocess.run(
        [sys.executable, "shapes.py", "with", "steps=4", "eval_every=2", "log_every=1",
         "batch_size=8", "num_samples=4"],
        cwd=home, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    return home, env, proc


def test_no_tensorflow_start_up_line_reaches_the_terminal(user_run):
    _, _, proc = user_run
    assert tensorflow_lines(proc.stdout + proc.stderr) == []
    assert "Completed after" in proc.stderr


def test_the_commands_printed_at_the_end_name_the_programs_by_path(user_run):
    home, env, proc = user_run
    assert printed_commands(proc.stdout) == {
        "tensorboard": f"{VENV_BIN}/tensorboard --logdir {home}/runs/1/model",
        "board": f"{VENV_BIN}/reproml board",  # runs/ of the working directory
    }
    # Bare names, as printed, are what this shell cannot find.
    bare = subprocess.run(["sh", "-c", "command -v reproml"], env=env, capture_output=True)
    assert bare.returncode != 0


def test_the_printed_tensorboard_command_serves_the_run(user_run):
    home, env, proc = user_run
    check_printed_tensorboard(proc.stdout, env, home)


def test_the_printed_board_command_serves_the_run(user_run):
    home, env, proc = user_run
    check_printed_board(proc.stdout, env, home, "shapes")


@pytest.mark.parametrize("on_path", [True, False])
def test_executable_is_the_bare_name_only_when_path_finds_that_script(
    monkeypatch, tmp_path, on_path
):
    elsewhere = os.pathsep.join(["/usr/bin", "/bin"])
    monkeypatch.setenv("PATH", f"{VENV_BIN}{os.pathsep}{elsewhere}" if on_path else elsewhere)
    monkeypatch.chdir(tmp_path)
    expected = "reproml" if on_path else str(VENV_BIN / "reproml")
    assert executable("reproml") == expected
    assert runnable("tensorboard --logdir /x y") == (
        f"{'tensorboard' if on_path else VENV_BIN / 'tensorboard'} --logdir /x y"
    )
    assert executable("no-such-script-here") == "no-such-script-here"
    assert board_command(tmp_path / "runs") == f"{expected} board"
    assert board_command(tmp_path / "my runs") == f"{expected} --store '{tmp_path}/my runs' board"


def test_executable_under_the_working_directory_is_relative(monkeypatch):
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    venv = VENV_BIN.parent
    monkeypatch.chdir(venv.parent)
    assert executable("reproml") == f"{venv.name}/bin/reproml"
