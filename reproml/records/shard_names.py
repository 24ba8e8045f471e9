"""The names of a record directory's files: shards, their temp files, stale temp files.

Kept apart from the writer (which needs TensorFlow) so that `reproml verify` and anything
else that only looks at file names starts without importing TensorFlow.
"""

from __future__ import annotations

import os
import re
import string
from pathlib import Path

from reproml.pids import pid_alive
from reproml.records.manifest import MANIFEST_NAME

TMP_SUFFIX = ".reproml-tmp"
# .<shard name>.<pid of the writing process>-<8 hex>.reproml-tmp
TMP_NAME_RE = re.compile(r"^\.(?P<name>.+)\.(?P<pid>\d+)-[0-9a-f]{8}" + re.escape(TMP_SUFFIX) + "$")
MANIFEST_TMP_RE = re.compile(r"^\." + re.escape(MANIFEST_NAME) + r"\..+\.tmp$")


def shard_name_regex(record_pattern: str, split: str | None = None) -> re.Pattern[str]:
    """Return a regex matching the file names `record_pattern` produces (of `split`, or any)."""
    parts = []
    for literal, field, _spec, _conv in string.Formatter().parse(record_pattern):
        parts.append(re.escape(literal))
        if field == "split":
            parts.append(re.escape(split) if split is not None else r".+?")
        elif field == "idx":
            parts.append(r"\s*\d+")
    return re.compile("^" + "".join(parts) + "$")


def remove_stale_temp_files(record_dir: str | os.PathLike) -> list[Path]:
    """Remove temp shards (and manifest temp files) left by killed writes; returns them.

    A temp shard is stale when the process that wrote it (the pid in its name) is gone.
    """
    removed = []
    for path in sorted(Path(record_dir).iterdir()):
        match = TMP_NAME_RE.match(path.name)
        stale = bool(match) and not pid_alive(int(match["pid"]))
        if stale or MANIFEST_TMP_RE.match(path.name):
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed
