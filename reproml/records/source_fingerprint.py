"""What a record directory was serialized from, fingerprinted, and compared again on reuse.

A source's description (the ``source`` dict of the manifest, see `reproml.records.sources`)
carries enough to fingerprint it again:

    npz / HDF5 / a data file  -> "file" (or "path") and its "sha256"
    image folder              -> "folders", "extensions" and FILE_HASHES_KEY:
                                 {split: {"<class>/<file>": [bytes, sha256]}} of every image

`source_changes(source)` fingerprints the source as it is now and returns one line naming what
changed (files added, removed or changed, the first few by name, with counts), or None when it
is unchanged or the description holds nothing to compare (e.g. scikit-learn's bundled digits).
A source deleted since (the file or a split's folder) is not compared: the records are its
copy, and deleting raw data once serialized is common; a warning line says so.

Content hashes, not names and sizes: an edited image of the same size is a changed source.
Within one process a file's sha256 is kept by (path, inode, size, mtime_ns, ctime_ns), so the
config hook and `ensure_records` hash a folder once (ctime cannot be set back by a user).
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from reproml.records.file_hash import file_sha256

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg")  # an image folder's default (`sources` uses it)
FILE_HASHES_KEY = "file_hashes"
CONTENT_KEY = "content_sha256"
FINGERPRINT_METHOD = "sha256 of every file (name, bytes, content)"
NAMES_SHOWN = 3

_log = logging.getLogger("reproml")
_hash_memo: dict[tuple, tuple[int, str]] = {}


def cached_file_sha256(path: str | os.PathLike) -> tuple[int, str]:
    """Return ``(bytes, sha256)`` of `path`, hashed once per process while its stat is the same."""
    st = os.stat(path)
    key = (str(path), st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
    if key not in _hash_memo:
        _hash_memo[key] = file_sha256(path)
    return _hash_memo[key]


def list_folder_images(folder: Path, extensions: Sequence[str]) -> list[tuple[str, Path]]:
    """Return ``("<class>/<file>", path)`` of every visible image of a split folder, sorted.

    The files `reproml.records.sources.rows_from_image_folder` takes as rows: visible files
    with an accepted extension in visible class sub-folders (anything else is not listed).
    """
    extensions = tuple(e.lower() for e in extensions)
    found = []
    for class_dir in _visible(folder):
        if not class_dir.is_dir():
            continue
        for file in _visible(class_dir):
            if file.is_file() and file.suffix.lower() in extensions:
                found.append((f"{class_dir.name}/{file.name}", file))
    return found


def folder_file_hashes(
    split_to_folder: Mapping[str, str | os.PathLike], extensions: Sequence[str]
) -> dict[str, dict[str, list]]:
    """Return ``{split: {"<class>/<file>": [bytes, sha256]}}`` of every image of the folders."""
    hashes: dict[str, dict[str, list]] = {}
    for split, folder in split_to_folder.items():
        hashes[split] = {
            rel: list(cached_file_sha256(path))
            for rel, path in list_folder_images(Path(folder), extensions)
        }
    return hashes


def content_sha256(file_hashes: Mapping[str, Mapping[str, Sequence]]) -> str:
    """Return one sha256 over ``{split: {name: [bytes, sha256]}}`` (splits and names sorted)."""
    digest = hashlib.sha256()
    for split in sorted(file_hashes):
        for name in sorted(file_hashes[split]):
            size, sha = file_hashes[split][name]
            digest.update(f"{split}\t{name}\t{size}\t{sha}\n".encode())
    return digest.hexdigest()


def source_changes(source: Mapping[str, Any]) -> str | None:
    """Fingerprint the source `source` describes as it is now; say what changed since.

    Args:
      source: a manifest's ``source`` dict.

    Returns:
      None when the source is unchanged or holds nothing to compare; else one line naming the
      files added, removed or changed (the first `NAMES_SHOWN` of each, with counts).
    """
    if isinstance(source.get("folders"), Mapping) and isinstance(
        source.get(FILE_HASHES_KEY), Mapping
    ):
        return _folder_changes(source)
    if isinstance(source.get("folders"), Mapping) and source.get("listing_sha256"):
        return _listing_changes(source)
    file = source.get("file") or source.get("path")
    if isinstance(file, str) and isinstance(source.get("sha256"), str):
        return _file_changes(Path(file), source["sha256"], source.get("bytes"))
    return None


def _file_changes(path: Path, recorded: str, recorded_bytes: Any) -> str | None:
    if not path.is_file():
        _gone(path)
        return None
    size, sha = cached_file_sha256(path)
    if sha == recorded:
        return None
    was = f", {recorded_bytes:,} bytes" if isinstance(recorded_bytes, int) else ""
    return (
        f"the data file {path} changed: sha256 {sha[:12]}..., {size:,} bytes now; the records "
        f"were made from sha256 {recorded[:12]}...{was}"
    )


def _folder_changes(source: Mapping[str, Any]) -> str | None:
    extensions = source.get("extensions") or IMAGE_EXTENSIONS
    recorded = source[FILE_HASHES_KEY]
    folders = source["folders"]
    added: list[str] = []
    removed: list[str] = []
    changed: list[str] = []
    for split, folder in folders.items():
        folder = Path(folder)
        if not folder.is_dir():
            _gone(folder)
            return None
        now = folder_file_hashes({split: folder}, extensions)[split]
        before = recorded.get(split, {})
        added += [str(folder / n) for n in sorted(set(now) - set(before))]
        removed += [str(folder / n) for n in sorted(set(before) - set(now))]
        changed += [
            str(folder / n)
            for n in sorted(set(now) & set(before))
            if list(now[n]) != list(before[n])
        ]
    parts = [
        _named(what, names)
        for what, names in (("added", added), ("removed", removed), ("changed", changed))
        if names
    ]
    return f"the image folder changed: {'; '.join(parts)}" if parts else None


def _listing_changes(source: Mapping[str, Any]) -> str | None:
    """Manifests written before per-file hashes: compare the names and sizes only."""
    extensions = source.get("extensions") or IMAGE_EXTENSIONS
    digest = hashlib.sha256()
    for split, folder in source["folders"].items():
        for rel, path in list_folder_images(Path(folder), extensions):
            digest.update(f"{split}\t{rel}\t{path.stat().st_size}\n".encode())
    if digest.hexdigest() == source["listing_sha256"]:
        return None
    return (
        "the image folder's listing (names and sizes) changed; these records predate per-file "
        "hashes, so which files is not known"
    )


def _gone(path: Path) -> None:
    """A source deleted after serializing is not a changed source: the records are its copy."""
    _log.warning("the source %s of these records is gone: not compared, records reused", path)


def _named(what: str, names: Iterable[str]) -> str:
    names = list(names)
    shown = ", ".join(names[:NAMES_SHOWN])
    more = f" and {len(names) - NAMES_SHOWN} more" if len(names) > NAMES_SHOWN else ""
    return f"{len(names)} file{'s' if len(names) != 1 else ''} {what} ({shown}{more})"


def _visible(folder: Path) -> list[Path]:
    return sorted((p for p in folder.iterdir() if not p.name.startswith(".")), key=lambda p: p.name)
