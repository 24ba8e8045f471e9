"""The state of the code a run ran with: one definition for recording it and for checking it.

A run records (`reproml.tracking.recording.record_code`) and ``reproml reproduce`` checks
(`code_problems`) the same three things, computed here only:

* ``commit``: ``git rev-parse HEAD`` of the checkout holding the experiment (``repo``);
* ``diff``: ``git diff HEAD`` as bytes (the artifact ``code.diff``, kept byte for byte, so a file
  that is not UTF-8 is recorded as it is);
* ``files``: ``{path relative to repo: sha256}`` of every file the run depends on: every module
  of the project (`imported_files`) imported when the run started (Sacred's sources) or during
  it (a network chosen by name from the config, an import inside a function; added when the run
  ends, `reproml.tracking.recording.record_late_imports`), tracked or not. An untracked file
  that is imported is covered here; an untracked file that is not code (a CSV written by
  ``leaderboard --csv``) is not a dependency and never blocks ``reproduce``.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import subprocess
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path

from reproml.records.file_hash import file_sha256
from reproml.errors import CliError

MAX_FILES_NAMED = 4
# A module under one of these directories is installed, not project code: pip freeze records it.
ENVIRONMENT_DIRS = frozenset({".venv", "site-packages", "dist-packages"})


@dataclasses.dataclass(frozen=True)
class CodeState:
    """What a checkout holds now, in the form a run records it.

    Attributes:
      commit: the commit checked out (None outside a git checkout).
      diff: ``git diff HEAD`` (bytes; empty when no tracked file changed).
      repo: the checkout's top-level directory.
    """

    commit: str | None
    diff: bytes
    repo: Path = Path(".")


def _git(args: list[str], cwd: Path) -> bytes:
    result = subprocess.run(["git", *args], cwd=cwd, capture_output=True, check=False, timeout=60)
    if result.returncode != 0:
        raise RuntimeError(
            f"git {' '.join(args)} in {cwd}: {result.stderr.decode(errors='replace')}"
        )
    return result.stdout


def git_toplevel(path: str | os.PathLike) -> Path | None:
    """Return the top level of the git checkout holding `path`, or None."""
    path = Path(path)
    directory = path if path.is_dir() else path.parent
    try:
        return Path(_git(["rev-parse", "--show-toplevel"], directory).decode().strip())
    except (RuntimeError, FileNotFoundError, NotADirectoryError, subprocess.TimeoutExpired):
        return None


def current_code_state(repo: str | os.PathLike) -> CodeState:
    """Return the commit and ``git diff HEAD`` of the checkout holding `repo`.

    Outside a git checkout the commit is None and the diff empty.
    """
    top = git_toplevel(repo)
    if top is None:
        return CodeState(None, b"", Path(repo).resolve())
    commit = _git(["rev-parse", "HEAD"], top).decode().strip()
    diff = _git(["diff", "HEAD", "--no-color", "--no-ext-diff", "--binary"], top)
    return CodeState(commit, diff, top)


def _sha256_or_none(path: Path) -> str | None:
    return file_sha256(path)[1] if path.is_file() else None


def file_hashes(repo: str | os.PathLike, files: Iterable[str | os.PathLike]) -> dict[str, str]:
    """Return ``{path relative to repo: sha256}`` for the `files` inside `repo`."""
    repo = Path(repo).resolve()
    hashes = {}
    for file in files:
        path = Path(file).resolve()
        if repo in path.parents:
            digest = _sha256_or_none(path)
            if digest is not None:
                hashes[path.relative_to(repo).as_posix()] = digest
    return dict(sorted(hashes.items()))


def imported_files(repo: str | os.PathLike) -> list[Path]:
    """Return the ``.py`` files of the modules imported now that are part of the project `repo`.

    Every module in ``sys.modules`` whose file lies inside `repo` counts, except those installed
    in an environment there (`ENVIRONMENT_DIRS`); modules outside `repo` are the environment.

    Returns:
      Resolved paths, sorted.
    """
    repo = Path(repo).resolve()
    found = set()
    for module in list(sys.modules.values()):
        filename = getattr(module, "__file__", None)
        if not isinstance(filename, str) or not filename.endswith(".py"):
            continue
        path = _resolved(filename) if os.path.isabs(filename) else Path(filename).resolve()
        if path.is_relative_to(repo) and not ENVIRONMENT_DIRS.intersection(
            path.relative_to(repo).parts
        ):
            found.add(path)
    return sorted(found)


@functools.lru_cache(maxsize=65536)
def _resolved(filename: str) -> Path:
    """``Path(filename).resolve()`` of an absolute module file, once per process.

    A run asks for ~10,000 of them (TensorFlow's modules); a relative one depends on the
    working directory, so it is never cached.
    """
    return Path(filename).resolve()


def changed_files(repo: str | os.PathLike, recorded: Mapping[str, str]) -> list[str]:
    """Return the recorded files whose content in `repo` differs now (or that are gone)."""
    return [
        name
        for name, digest in sorted(recorded.items())
        if _sha256_or_none(Path(repo) / name) != digest
    ]


def untracked_files(state: CodeState, files: Iterable[str]) -> list[str]:
    """Return which of `files` (relative to the checkout) git does not track."""
    if state.commit is None:
        return []
    listed = _git(["ls-files", "--others", "--exclude-standard", "-z"], state.repo)
    others = {name.decode("utf-8", "surrogateescape") for name in listed.split(b"\0") if name}
    return sorted(set(files) & others)


def require_checkout(state: CodeState) -> CodeState:
    """Return `state`, or raise when it is not a git checkout.

    Raises:
      CliError: `state.repo` is not inside a git checkout.
    """
    if state.commit is None:
        raise CliError(f"{state.repo} is not inside a git checkout, so its code cannot be compared")
    return state


def summarize_diff(diff: bytes | str) -> str:
    """Return ``N lines in a.py, b.py`` for a git diff (``empty`` for no diff)."""
    text = diff.decode("utf-8", "replace") if isinstance(diff, bytes) else diff
    if not text.strip():
        return "empty"
    lines = text.splitlines()
    named = [line.split(" b/", 1)[-1] for line in lines if line.startswith("diff --git ")]
    shown = ", ".join(named[:MAX_FILES_NAMED]) or "unknown files"
    if len(named) > MAX_FILES_NAMED:
        shown += f" and {len(named) - MAX_FILES_NAMED} more"
    return f"{len(lines)} lines in {shown}"
