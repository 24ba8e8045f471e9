"""The file store with every file written atomically and every reused copy checked.

Sacred's `FileStorageObserver` writes ``run.json``, ``metrics.json``, ``cout.txt`` and artifacts
in place, and keeps one copy per source file in ``_sources/NAME_MD5.py``, reused by name. When
the disk fills up that leaves truncated files: a ``run.json`` that is no longer JSON, or a
truncated source copy that every later run reuses as its own (its name still carries the md5
of the whole file). `AtomicFileStorageObserver` overrides the observer's public ``save_*``
methods only: each file is written to a temp file in the same directory, flushed and renamed
(`reproml.records.atomic_write`), so it is either the old whole file or the new whole file; a
shared copy is reused only when its content still has the md5 its name says, else rewritten.
A run whose start cannot be recorded (no room for its sources or run.json) leaves no run
directory behind: it did not start, so nothing may list it as RUNNING (or, later, dead).
"""

from __future__ import annotations

import datetime
import json
import os
import shutil
from pathlib import Path
from typing import Any

from sacred.observers import FileStorageObserver
from sacred.serializer import flatten

from reproml.records.atomic_write import write_atomic
from reproml.runs.file_store import shared_copy

RUN_FILES = ("run.json", "config.json", "cout.txt", "metrics.json", "seal.json")


class AtomicFileStorageObserver(FileStorageObserver):
    """A `FileStorageObserver` whose files are whole or absent (see the module docstring)."""

    def started_event(  # noqa: D102
        self,
        ex_info: dict[str, Any],
        command: str,
        host_info: dict[str, Any],
        start_time: datetime.datetime,
        config: dict[str, Any],
        meta_info: dict[str, Any],
        _id: int | str | None,
    ) -> int | str:
        self.dir = None
        try:
            return super().started_event(
                ex_info, command, host_info, start_time, config, meta_info, _id
            )
        except BaseException:
            # Sacred sets `dir` only once it made a new run directory: the one of this run.
            if _id is None and self.dir is not None:
                shutil.rmtree(self.dir, ignore_errors=True)
            raise

    def save_json(  # noqa: D102 - Sacred's method, written atomically
        self, obj: dict[str, Any], filename: str
    ) -> None:
        text = json.dumps(flatten(obj), sort_keys=True, indent=2)
        write_atomic(os.path.join(self.dir, filename), text)

    def save_file(self, filename: str, target_name: str | None = None) -> None:  # noqa: D102
        target_name = target_name or os.path.basename(filename)
        if target_name in RUN_FILES:
            raise FileExistsError(
                f"artifact name {target_name!r} would overwrite the file store's own "
                f"{target_name}; add it under another name"
            )
        destination = Path(self.dir) / target_name
        if Path(filename).resolve() != destination.resolve():
            write_atomic(destination, Path(filename).read_bytes())

    def save_cout(self) -> None:  # noqa: D102 - the whole (filtered) output, rewritten atomically
        write_atomic(os.path.join(self.dir, "cout.txt"), self.cout)
        self.cout_write_cursor = len(self.cout)

    def find_or_save(self, filename: str, store_dir: Path) -> Path:  # noqa: D102
        return shared_copy(filename, store_dir)
