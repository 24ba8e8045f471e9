"""Writing a file so that it is either absent or complete under its final name.

`atomic_output(path)` is the streaming form: a context manager yielding a binary file that is
renamed to `path` only when the block exits without an exception (a download, say, that is
checked before it is kept). `write_atomic(path, data)` writes bytes already in memory with it.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike) -> Iterator[BinaryIO]:
    """Yield a binary file that becomes `path` (fsync, then rename) when the block succeeds.

    The file is a temp file in the same directory (so the rename is atomic) whose name starts
    with a dot and ends in ``.tmp``, so a reader or a glob for shards never sees a half-written
    file under its final name. If the block raises (including a check the caller makes inside
    it, such as a hash mismatch), the temp file is removed, `path` is left as it was, and the
    exception propagates.

    Args:
      path: the final path; its directory must exist.

    Yields:
      The open temp file (binary, write mode).
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_atomic(path: str | os.PathLike, data: bytes | str) -> str:
    """Write `data` to `path` with `atomic_output` and return its sha256 (hex).

    On any error the temp file is removed and `path` is left as it was. str is written as UTF-8.
    """
    payload = data.encode("utf-8") if isinstance(data, str) else data
    with atomic_output(path) as f:
        f.write(payload)
    return hashlib.sha256(payload).hexdigest()
