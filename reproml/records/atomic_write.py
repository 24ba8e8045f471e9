"""Writing a file so that it is either absent or complete under its final name."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path


def write_atomic(path: str | os.PathLike, data: bytes | str) -> str:
    """Writes `data` to `path` via a temp file, fsync and rename; returns its sha256 (hex).

    The temp file lives in the same directory (so the rename is atomic) and starts with a dot,
    so a reader or a glob for shards never sees a half-written file under its final name. On
    any error the temp file is removed and `path` is left as it was. str is written as UTF-8.
    """
    path = Path(path)
    payload = data.encode("utf-8") if isinstance(data, str) else data
    digest = hashlib.sha256(payload).hexdigest()
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(payload)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return digest
