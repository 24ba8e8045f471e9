"""The sha256 of a file, read in chunks: shards, manifests' sources and downloads all use it."""

from __future__ import annotations

import hashlib
import os
from typing import Any

_CHUNK = 1 << 20


def file_sha256(path: str | os.PathLike, bar: Any | None = None) -> tuple[int, str]:
    """Returns ``(size in bytes, sha256 hex)`` of a file, read in 1 MiB chunks.

    Args:
      path: the file.
      bar: an optional tqdm bar, advanced by the bytes read.
    """
    digest, size = hashlib.sha256(), 0
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
            if bar is not None:
                bar.update(len(chunk))
    return size, digest.hexdigest()
