"""The state of the code a run is re-run with, in the form runs record it.

`reproml.tracking.record.record_code` records ``info["code"]["commit"]`` and, when the
checkout is dirty, the artifact ``code.diff``: ``git diff HEAD`` followed by a comment block
listing the untracked files. `current_code_state` rebuilds exactly that text from the checkout
now, so ``reproduce`` can compare it byte for byte with the recorded artifact.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import reproml
from reproml.runs.record import CliError

# The checkout `ReproExperiment` records (the parent of the reproml package).
DEFAULT_REPO = Path(reproml.__file__).resolve().parent.parent
MAX_FILES_NAMED = 4


@dataclasses.dataclass(frozen=True)
class CodeState:
    """The commit checked out and the ``code.diff`` text a run would record (empty if clean)."""

    commit: str
    diff: str


def current_code_state(repo: str | Path | None = None) -> CodeState:
    """Return the commit and the would-be ``code.diff`` text of the checkout at `repo`.

    Raises:
      CliError: `repo` is not inside a git checkout.
    """
    from reproml.tracking import record as run_record

    repo = Path(repo) if repo else DEFAULT_REPO
    state = run_record.code_state(repo)
    if state["commit"] is None:
        raise CliError(f"{repo} is not inside a git checkout, so its code cannot be compared")
    text = ""
    if state["dirty"]:  # the same text record_code writes to code.diff
        text = state["diff"]
        if state["untracked"]:
            text += "\n# Untracked files (not in the diff):\n"
            text += "".join(f"#   {f}\n" for f in state["untracked"])
    return CodeState(state["commit"], text)


def summarize_diff(diff: str) -> str:
    """Return ``N lines in a.py, b.py`` for a git diff (``empty`` for no diff)."""
    if not diff.strip():
        return "empty"
    lines = diff.splitlines()
    files = [line.split(" b/", 1)[-1] for line in lines if line.startswith("diff --git ")]
    untracked = [line[4:] for line in lines if line.startswith("#   ")]
    named = files + [f"{f} (untracked)" for f in untracked]
    shown = ", ".join(named[:MAX_FILES_NAMED]) or "unknown files"
    if len(named) > MAX_FILES_NAMED:
        shown += f" and {len(named) - MAX_FILES_NAMED} more"
    return f"{len(lines)} lines in {shown}"
