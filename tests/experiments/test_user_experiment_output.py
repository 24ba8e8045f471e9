"""A newcomer's own experiment, outside the repository: quiet start-up, commands that work as printed.

The recipe of docs/experiments.md is copied to a directory outside the checkout and run as
``python shapes.py`` with a PATH that does not hold the virtualenv (as after ``make demo``,
without ``source .venv/bin/activate``) and no ``TF_CPP_MIN_LOG_LEVEL`` of the user's.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from reproml.tracking.printed_commands import board_command, executable, runnable
from tests.experiments.shapes_recipe import write_recipe_and_images

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
# Words of TensorFlow's C++ start-up lines (oneDNN, cuda drivers, cuDNN/cuFFT/cuBLAS, CPU
# features, TensorRT).
TF_START_UP = ("cuda", "cuDNN", "cuFFT", "cuBLAS", "cpu_feature_guard", "TF-TRT", "oneDNN")
# Any TensorFlow C++ log line ("2026-11-21 11:40:26.878647: I tensorflow/...") and the line that
# continues its CPU-feature message.
TF_CPP_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+: [IWEF] |^To enable the following")
pytestmark = pytest.mark.slow


def _user_env(tmp_path: Path) -> dict[str, str]:
    """The environment of a shell where .venv is not activated and TensorFlow's level not set."""
    env = {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL", "VIRTUAL_ENV")}
    env.pop("REPROML_RUNS_DIR", None)
    env.pop("REPROML_MONGO_URL", None)
    paths = os.environ.get("PATH", "/usr/bin:/bin").split(os.pathsep)
    env["PATH"] = os.pathsep.join(p for p in paths if Path(p).resolve() != VENV_BIN.resolve())
    env["PYTHONPATH"] = str(REPO)  # this checkout, as its editable install would give
    env["HOME"] = os.environ.get("HOME", str(tmp_path))
    return env


@pytest.fixture(scope="module")
def user_run(tmp_path_factory):
    """The docs' recipe run once as ``python shapes.py with ...`` from a directory of its own."""
    home = tmp_path_factory.mktemp("newcomer")
    assert REPO not in home.parents
    write_recipe_and_images(home)  # shapes.py, and its images in data/shapes
    env = _user_env(home)
    proc = subprocess.run(
        [sys.executable, "shapes.py", "with", "steps=4", "eval_every=2", "log_every=1",
         "batch_size=8", "num_samples=4"],
        cwd=home, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    return home, env, proc


def test_no_tensorflow_start_up_line_reaches_the_terminal(user_run):
    _, _, proc = user_run
    for line in (proc.stdout + proc.stderr).splitlines():
        assert not any(word in line for word in TF_START_UP), line
        assert not TF_CPP_LINE.match(line), line
    assert "Completed after" in proc.stderr


def test_the_commands_printed_at_the_end_work_as_printed(user_run):
    home, env, proc = user_run
    printed = dict(re.findall(r"^(TensorBoard|Browser): (.*)$", proc.stdout, flags=re.MULTILINE))
    tensorboard = printed["TensorBoard"]
    board = re.fullmatch(
        r"`(.*)` shows the runs of the file store in Omniboard", printed["Browser"]
    )
    assert board, printed["Browser"]
    assert tensorboard.startswith(str(VENV_BIN / "tensorboard") + " --logdir ")
    assert board[1] == f"{VENV_BIN / 'reproml'} board"  # runs/ of the working directory
    # TensorBoard as printed, with --inspect (it reads the event files and exits, no server).
    inspect = subprocess.run(
        [*shlex.split(tensorboard), "--inspect"],
        cwd=home, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert inspect.returncode == 0, inspect.stderr[-2000:]
    assert "train.loss" in inspect.stdout or "loss" in inspect.stdout, inspect.stdout[-2000:]
    # The board command's program and store as printed; `runs` in place of `board` (which serves
    # until Ctrl-C) lists the run the board would show.
    argv = shlex.split(board[1])
    listed = subprocess.run(
        [*argv[:-1], "runs"], cwd=home, env=env, capture_output=True, text=True, timeout=300
    )
    assert listed.returncode == 0, listed.stderr
    assert re.search(r"^1\s+shapes\s+COMPLETED", listed.stdout, flags=re.MULTILINE), listed.stdout
    # Bare names, as printed, are what this shell cannot find.
    bare = subprocess.run(["sh", "-c", "command -v reproml"], env=env, capture_output=True)
    assert bare.returncode != 0


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
