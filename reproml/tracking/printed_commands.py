"""The commands a run prints at its end (TensorBoard, ``reproml board``), runnable as printed.

``make demo`` runs ``.venv/bin/python`` without activating ``.venv``, so ``reproml`` and
``tensorboard`` are not on the user's PATH: a bare ``reproml board`` would answer ``command not
found``. `executable` names a console script the way the shell will find it: its bare name when
PATH already leads to the one installed beside this interpreter, else its path.
"""

from __future__ import annotations

import os
import shlex
import shutil
import sys
from pathlib import Path


def executable(name: str) -> str:
    """Return how to call console script `name` of this interpreter's environment from a shell.

    Args:
      name: a console script installed beside ``sys.executable`` (``reproml``, ``tensorboard``).

    Returns:
      `name` when ``PATH`` finds that very script (or when the environment has no such script,
      so there is no better name); else its path, relative to the working directory when it is
      under it (``.venv/bin/reproml``), absolute otherwise.
    """
    beside = Path(sys.executable).parent / name
    if not beside.is_file():
        return name
    found = shutil.which(name)
    if found and os.path.samefile(found, beside):
        return name
    try:
        return str(beside.absolute().relative_to(Path.cwd()))
    except ValueError:
        return str(beside.absolute())


def runnable(command: str) -> str:
    """Return `command` (``"tensorboard --logdir ..."``) with its program named by `executable`."""
    program, _, rest = command.partition(" ")
    return f"{executable(program)} {rest}".rstrip()


def board_command(runs_dir: str | os.PathLike | None) -> str:
    """Return the ``reproml board`` command that opens the file store `runs_dir`.

    ``--store`` is left out when `runs_dir` is ``runs/`` of the working directory (the CLI's
    default), so the usual case reads as the docs show it.
    """
    command = executable("reproml")
    if runs_dir is not None and Path(runs_dir).absolute() != Path("runs").absolute():
        command += f" --store {shlex.quote(os.fspath(runs_dir))}"
    return f"{command} board"
