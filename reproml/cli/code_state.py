"""The state of the code a run is re-run with: git commit and uncommitted diff."""

from __future__ import annotations

import dataclasses
import subprocess
from pathlib import Path

from reproml.cli.run_record import CliError


@dataclasses.dataclass(frozen=True)
class CodeState:
    """The commit checked out and the text of ``git diff HEAD`` (empty when clean)."""

    commit: str
    diff: str


def _git(repo: Path, *args: str) -> str:
    try:
        done = subprocess.run(
            ["git", "-C", str(repo), *args], capture_output=True, text=True, timeout=60
        )
    except (OSError, subprocess.TimeoutExpired) as err:
        raise CliError(f"cannot run git in {repo}: {err}") from None
    if done.returncode != 0:
        message = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "failed"
        raise CliError(f"git {' '.join(args)} in {repo}: {message}")
    return done.stdout


def current_code_state(repo: str | Path = ".") -> CodeState:
    """Return the commit (``git rev-parse HEAD``) and diff (``git diff HEAD``) of `repo`.

    Raises:
      CliError: `repo` is not a git checkout or git cannot run.
    """
    repo = Path(repo)
    return CodeState(_git(repo, "rev-parse", "HEAD").strip(), _git(repo, "diff", "HEAD"))


def summarize_diff(diff: str) -> str:
    """Return ``N lines in a.py, b.py`` for a git diff (``empty`` for no diff)."""
    if not diff.strip():
        return "empty"
    lines = diff.splitlines()
    files = [line.split(" b/", 1)[-1] for line in lines if line.startswith("diff --git ")]
    return f"{len(lines)} lines in {', '.join(files) or 'unknown files'}"
