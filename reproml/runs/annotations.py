"""Tags and a note on a run, editable at any time, stored where Omniboard reads them.

MongoDB: the run document's ``omniboard.tags`` (a list of str) and ``omniboard.notes`` (a str),
Omniboard's own fields (it shows ``meta.comment``, Sacred's ``-c``, when there is no note).
File store: ``runs/<id>/omniboard.json`` holds the same ``{"tags": [...], "notes": "..."}``; it
is the run's own file, so ``reproml push`` can carry it into those fields (`omniboard_fields`),
and Sacred's observer, which rewrites ``run.json`` at every heartbeat, never touches it.

A live run tags itself with `tag_live_run` (e.g. a sweep trial with its sweep's id).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from reproml.runs.record import RunRecord
from reproml.errors import CliError

ANNOTATIONS_FILE = "omniboard.json"


def _clean_tags(tags: Iterable[str]) -> list[str]:
    """Return `tags` stripped, without duplicates, in order; refuse empty or non-str tags."""
    kept: list[str] = []
    for tag in tags:
        if not isinstance(tag, str) or not tag.strip():
            raise CliError(f"tag {tag!r}: expected a non-empty string")
        if tag.strip() not in kept:
            kept.append(tag.strip())
    return kept


def is_mongo_run(run: RunRecord) -> bool:
    """Tell whether `run` was read from MongoDB (its location is not a directory)."""
    return not Path(run.location).is_dir()


def tags_of(run: RunRecord) -> list[str]:
    """Return the run's tags (empty when it has none)."""
    return list(annotations_of(run)["tags"])


def notes_of(run: RunRecord) -> str:
    """Return the run's note: its own, else Sacred's ``-c`` comment, else an empty string."""
    notes = annotations_of(run)["notes"]
    return notes or str((run.raw.get("meta") or {}).get("comment") or "")


def annotations_of(run: RunRecord) -> dict[str, Any]:
    """Return ``{"tags": [...], "notes": str}`` as stored for `run` (either store)."""
    if is_mongo_run(run):
        return as_annotations(run.raw.get("omniboard"))
    return as_annotations(read_annotations_file(Path(run.location)))


def as_annotations(stored: dict[str, Any] | None) -> dict[str, Any]:
    """Return ``{"tags": [...], "notes": str}`` of a stored ``omniboard`` object (or None)."""
    stored = stored or {}
    return {"tags": list(stored.get("tags") or []), "notes": str(stored.get("notes") or "")}


def read_annotations_file(run_dir: Path) -> dict[str, Any]:
    """Return the ``omniboard.json`` of a run directory (``{}`` when it has none).

    Raises:
      CliError: the file is not a JSON object with a list of tags and a str note.
    """
    path = run_dir / ANNOTATIONS_FILE
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as err:
        raise CliError(f"{path} is not valid JSON ({err}); fix or delete it") from None
    if (
        not isinstance(data, dict)
        or not isinstance(data.get("tags", []), list)
        or not isinstance(data.get("notes", ""), str)
    ):
        raise CliError(f"{path}: expected {{'tags': [str, ...], 'notes': str}}, got {data!r}")
    return data


def write_annotations_file(run_dir: Path, tags: list[str], notes: str) -> None:
    """Write ``omniboard.json`` in `run_dir` atomically."""
    path = run_dir / ANNOTATIONS_FILE
    tmp = path.with_name(f".{ANNOTATIONS_FILE}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps({"tags": tags, "notes": notes}, indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)


def annotate(
    store: Any,
    run: RunRecord,
    *,
    add: Iterable[str] = (),
    remove: Iterable[str] = (),
    notes: str | None = None,
) -> dict[str, Any]:
    """Add/remove tags and set the note of `run` in its `store`; return the new annotations.

    Raises:
      CliError: a tag is empty, or a tag to remove is not on the run.
    """
    current = annotations_of(run)
    tags = _clean_tags([*current["tags"], *add])
    for tag in _clean_tags(remove):
        if tag not in tags:
            raise CliError(f"run {run.run_id} has no tag {tag!r} (its tags: {tags or 'none'})")
        tags.remove(tag)
    new_notes = current["notes"] if notes is None else notes
    if is_mongo_run(run):
        key = run.raw["_id"]
        store.db.runs.update_one(
            {"_id": key}, {"$set": {"omniboard.tags": tags, "omniboard.notes": new_notes}}
        )
    else:
        write_annotations_file(Path(run.location), tags, new_notes)
    return {"tags": tags, "notes": new_notes}


def omniboard_fields(run_dir: str | os.PathLike) -> dict[str, Any]:
    """Return the ``$set`` of ``omniboard.tags`` / ``omniboard.notes`` for a pushed file-store run.

    Empty when the run has no ``omniboard.json``.
    """
    stored = read_annotations_file(Path(run_dir))
    fields: dict[str, Any] = {}
    if "tags" in stored:
        fields["omniboard.tags"] = list(stored["tags"])
    if stored.get("notes"):
        fields["omniboard.notes"] = stored["notes"]
    return fields


def tag_live_run(run: Any, tags: Iterable[str]) -> None:
    """Tag a running Sacred run in every store it records to (file store and MongoDB).

    Args:
      run: the Sacred ``_run`` (its observers may be wrapped in `GuardedObserver`).
      tags: the tags to add.
    """
    tags = _clean_tags(tags)
    for observer in run.observers:
        inner = getattr(observer, "observer", observer)
        run_dir = getattr(inner, "dir", None)
        if run_dir:
            stored = read_annotations_file(Path(run_dir))
            merged = _clean_tags([*(stored.get("tags") or []), *tags])
            write_annotations_file(Path(run_dir), merged, str(stored.get("notes") or ""))
        entry = getattr(inner, "run_entry", None)
        if isinstance(entry, dict) and hasattr(inner, "runs"):
            omniboard = entry.setdefault("omniboard", {})
            omniboard["tags"] = _clean_tags([*(omniboard.get("tags") or []), *tags])
            inner.runs.update_one({"_id": entry["_id"]}, {"$set": {"omniboard": omniboard}})
