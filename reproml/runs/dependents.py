"""Which runs use what another run made: its model dir (checkpoints) or its exported model.

A run records the directories it trained in or read from as ``info["model_dir"]`` and
``info["export_dir"]``. Run B *depends on* run A when B started after A and one of B's
directories is, is inside, or holds one of A's (B resumed training in A's model dir, evaluated,
exported or embedded A's model, or the two share a ``model_dir``), or lies inside A's run
directory (a file store's ``<store>/<id>/model``). An earlier run never depends on a later one:
run 1 does not use what run 2, resumed in run 1's model dir, made. Deleting A then removes, or leaves unowned, what B's record names:
`reproml rm` refuses it naming B, unless ``--force`` (it then says what it left broken).
Record dirs (``info["dataset"]["record_dir"]``) are shared by design and never deleted with a run.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from pathlib import Path

from reproml.runs.annotations import is_mongo_run
from reproml.runs.record import RunRecord

USED_DIRS = ("model_dir", "export_dir")  # info keys naming directories a run trained in or read


@dataclasses.dataclass(frozen=True)
class Dependent:
    """A run using directories of the run to delete.

    Attributes:
      run: the dependent run.
      uses: ``(info key, path)`` of each of its directories that belongs to the run to delete.
    """

    run: RunRecord
    uses: tuple[tuple[str, Path], ...]

    def describe(self) -> str:
        """``run 2 (model_dir /x/runs/1/model, resumed from step 30)``: what it uses."""
        used = ", ".join(f"{key} {path}" for key, path in self.uses)
        step = self.run.info.get("resumed_from_step")
        resumed = f", resumed from step {step}" if step else ""
        return f"run {self.run.run_id} ({used}{resumed})"


def recorded_dirs(run: RunRecord) -> dict[str, Path]:
    """Return ``{info key: resolved path}`` of the directories `run` recorded (`USED_DIRS`)."""
    dirs = {}
    for key in USED_DIRS:
        value = run.info.get(key)
        if isinstance(value, str) and value:
            dirs[key] = Path(value).expanduser().resolve()
    return dirs


def owned_dirs(run: RunRecord) -> list[Path]:
    """The directories of `run` another run may depend on: its recorded ones and its run dir."""
    owned = list(recorded_dirs(run).values())
    if not is_mongo_run(run) and run.location:
        owned.append(Path(run.location).resolve())
    return owned


def _overlap(a: Path, b: Path) -> bool:
    return a == b or a.is_relative_to(b) or b.is_relative_to(a)


def _started_before(a: RunRecord, b: RunRecord) -> bool:
    """Whether `a` started before `b` (False when either start time is unknown)."""
    return a.start_time is not None and b.start_time is not None and a.start_time < b.start_time


def dependents_of(run: RunRecord, others: Iterable[RunRecord]) -> list[Dependent]:
    """Return the runs among `others` that use a directory of `run` (see the module docstring)."""
    owned = owned_dirs(run)
    found = []
    for other in others:
        if other.run_id == run.run_id or _started_before(other, run):
            continue
        uses = tuple(
            (key, path)
            for key, path in recorded_dirs(other).items()
            if any(_overlap(path, mine) for mine in owned)
        )
        if uses:
            found.append(Dependent(other, uses))
    return found


def left_broken(dependents: Iterable[Dependent]) -> list[str]:
    """After a forced deletion: one line per directory a dependent names, gone or left in place."""
    lines = []
    for dependent in dependents:
        for key, path in dependent.uses:
            state = "is gone" if not path.exists() else "is left in place (still used)"
            lines.append(f"run {dependent.run.run_id}'s {key} {path} {state}")
    return lines
