"""Where a run's artifact files are written before a store copies them in.

A step writes its file into the run's temporary artifact directory, then hands the path to
``run.add_artifact`` (every store copies it). The directory is made once per run and removed
at interpreter exit.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
import weakref
from pathlib import Path
from typing import Any

# Each run's directory, kept beside the run (no attribute is set on Sacred's `Run`).
_DIRS: weakref.WeakKeyDictionary[Any, Path] = weakref.WeakKeyDictionary()


def artifact_dir(run: Any) -> Path:
    """Return a temp directory for this run's artifact files (removed at interpreter exit)."""
    path = _DIRS.get(run)
    if path is None:
        path = Path(tempfile.mkdtemp(prefix="reproml-run-"))
        _DIRS[run] = path
        atexit.register(shutil.rmtree, path, True)
    return path


def add_file_artifact(run: Any, path: str | Path, name: str | None = None) -> None:
    """Add the file at `path` to the run as an artifact called `name` (default: its file name)."""
    run.add_artifact(str(path), name=name or Path(path).name)
