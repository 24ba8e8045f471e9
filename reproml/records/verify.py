"""`verify`: check a record directory against its ``manifest.json`` and name what differs.

Checks, in order: the manifest loads and its format/compression are known; every listed shard
exists and has the listed size and sha256 (a streaming hash, so large shards are fine); each
split's ``num_examples`` is the sum of its shard records; the stored fingerprint equals the one
recomputed from the manifest; and no file in the directory looks like a shard of the pattern
without being listed, or is a temp file of an interrupted write.

Two entry points: `verify` returns the problems (an empty list means the directory matches its
manifest), `verify_or_raise` raises one `RecordError` listing all of them (what the CLI's
``reproml verify`` calls).
"""

from __future__ import annotations

import os
from pathlib import Path

from tqdm import tqdm

from reproml.errors import RecordError
from reproml.records.file_hash import file_sha256
from reproml.records.manifest import (
    COMPRESSIONS,
    FORMAT_VERSION,
    MANIFEST_NAME,
    Manifest,
    load_manifest,
)
from reproml.records.writer import TMP_NAME_RE, shard_name_regex

_RESERIALIZE = "Re-serialize the data with the same write_records call to rewrite it"


def verify(record_dir: str | os.PathLike, *, progress: bool = False) -> list[RecordError]:
    """Return every way `record_dir` differs from its manifest (empty: it matches).

    Args:
      record_dir: a directory written by `write_records`.
      progress: show a tqdm bar of bytes hashed.

    Returns:
      One `RecordError` per problem, each naming the file and the fix.

    Raises:
      RecordError: there is no readable ``manifest.json`` (nothing can be checked).
    """
    record_dir = Path(record_dir)
    manifest = load_manifest(record_dir)
    manifest_path = record_dir / MANIFEST_NAME
    problems: list[RecordError] = []
    if manifest.format_version != FORMAT_VERSION:
        problems.append(
            RecordError(
                manifest_path,
                f"has format_version {manifest.format_version}, this reproml reads "
                f"{FORMAT_VERSION}",
                _RESERIALIZE,
            )
        )
    if manifest.compression not in COMPRESSIONS:
        problems.append(
            RecordError(
                manifest_path,
                f"has compression {manifest.compression!r}, expected one of {list(COMPRESSIONS)}",
                _RESERIALIZE,
            )
        )
    problems += _check_shards(record_dir, manifest, progress)
    recomputed = manifest.compute_fingerprint()
    if manifest.fingerprint != recomputed:
        problems.append(
            RecordError(
                manifest_path,
                f"fingerprint {manifest.fingerprint!r} differs from {recomputed!r} recomputed from "
                "its schema, compression and shard hashes (the manifest was edited)",
                _RESERIALIZE,
            )
        )
    problems += _check_unlisted(record_dir, manifest)
    return problems


def verify_or_raise(record_dir: str | os.PathLike, *, progress: bool = False) -> Manifest:
    """Return the manifest of `record_dir` if every shard matches it, else raise.

    Raises:
      RecordError: naming `record_dir`, with one line per problem (file, what differs, fix).
    """
    problems = verify(record_dir, progress=progress)
    if problems:
        lines = "\n".join(f"  - {p}" for p in problems)
        raise RecordError(
            record_dir,
            f"{len(problems)} problem(s) found against {MANIFEST_NAME} (fix: re-serialize the "
            f"data with the same write_records call; it replaces every shard and the manifest):"
            f"\n{lines}",
        )
    return load_manifest(record_dir)


def _check_shards(record_dir: Path, manifest: Manifest, progress: bool) -> list[RecordError]:
    problems = []
    total = sum(sh.bytes for info in manifest.splits.values() for sh in info.shards)
    with tqdm(total=total, unit="B", unit_scale=True, desc="verify", disable=not progress) as bar:
        for split, info in manifest.splits.items():
            listed = sum(sh.records for sh in info.shards)
            if listed != info.num_examples:
                problems.append(
                    RecordError(
                        record_dir / MANIFEST_NAME,
                        f"split {split!r} has num_examples {info.num_examples} but its shards "
                        f"hold {listed} records",
                        _RESERIALIZE,
                    )
                )
            for shard in info.shards:
                path = record_dir / shard.file
                where = f"shard of split {split!r}"
                if not path.is_file():
                    problems.append(
                        RecordError(
                            path, f"is missing ({where} listed in {MANIFEST_NAME})", _RESERIALIZE
                        )
                    )
                    continue
                size, sha = file_sha256(path, bar)
                if size != shard.bytes:
                    problems.append(
                        RecordError(
                            path,
                            f"{where} has {size} bytes, {MANIFEST_NAME} says {shard.bytes} "
                            "(truncated or replaced)",
                            f"Shard {shard.file} differs. {_RESERIALIZE}",
                        )
                    )
                elif sha != shard.sha256:
                    problems.append(
                        RecordError(
                            path,
                            f"{where} has sha256 {sha}, {MANIFEST_NAME} says {shard.sha256} "
                            "(same size: bytes were changed)",
                            f"Shard {shard.file} differs. {_RESERIALIZE}",
                        )
                    )
    return problems


def _check_unlisted(record_dir: Path, manifest: Manifest) -> list[RecordError]:
    listed = {sh.file for info in manifest.splits.values() for sh in info.shards}
    looks_like_shard = shard_name_regex(manifest.record_pattern)
    problems = []
    for path in sorted(record_dir.iterdir()):
        if path.name in listed or path.name == MANIFEST_NAME:
            continue
        if TMP_NAME_RE.match(path.name) or path.name.endswith(".tmp"):
            problems.append(
                RecordError(
                    path,
                    "is a temp file left by an interrupted write",
                    "Delete it (the next write_records into this directory also does)",
                )
            )
        elif looks_like_shard.match(path.name):
            problems.append(
                RecordError(
                    path,
                    f"matches the record pattern {manifest.record_pattern!r} but is not listed "
                    f"in {MANIFEST_NAME} (left from another write?)",
                    "Delete it, or re-serialize if it should belong to this dataset",
                )
            )
    return problems
