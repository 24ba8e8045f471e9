"""Check a record directory against its ``manifest.json`` and name what differs.

One check per shard, `check_shard` (exists, readable, byte size, sha256 -- a streaming hash,
so large shards are fine), serves both entry points that read a directory:

* `verify` (and `verify_or_raise`, what ``reproml verify`` calls) runs every check on every
  shard and collects all the problems: the manifest's format and compression are known; every
  listed shard matches; each split's ``num_examples`` is the sum of its shard records; the
  stored fingerprint equals the one recomputed from the manifest; every shard's record index
  (``record_lengths``, if the manifest has one) matches the shard's framing; and no file in the directory
  looks like a shard of the pattern without being listed, or is a temp file of an interrupted
  write. An empty list means the directory matches its manifest.
* `verify_shards`, which the input functions call before reading one split, raises the first
  problem, checking only as deep as asked ("size" by default, "sha256", or None: exists and
  readable).
* `verify_for_run`, the check a run makes before it trains (and again when its main function
  ends): the manifest's fingerprint and the sha256 of every shard of the splits it reads; it
  raises the first problem, naming the shard, and says what it checked and how long it took.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from tqdm import tqdm

from reproml.errors import ConfigError, RecordError
from reproml.records import record_index
from reproml.records.file_hash import file_sha256
from reproml.records.manifest import (
    COMPRESSIONS,
    FORMAT_VERSION,
    MANIFEST_NAME,
    Manifest,
    ShardInfo,
    load_manifest,
)
from reproml.records.shard_names import TMP_NAME_RE, shard_name_regex

# How deep `check_shard` looks: "exists" (and is readable), "size" (also the byte size: catches
# missing and truncated shards, cheap), "sha256" (also rehashes: catches any changed byte).
CHECK_LEVELS = ("exists", "size", "sha256")
# The `verify=` argument of the input functions; None checks that every shard exists.
VERIFY_MODES = ("size", "sha256", None)
FIX = "Re-serialize the data (write_records), or restore the file from a copy"
_RESERIALIZE = "Re-serialize the data with the same write_records call to rewrite it"


def check_shard(
    path: Path, shard: ShardInfo, where: str, level: str = "sha256", bar: Any | None = None
) -> RecordError | None:
    """Return the first way one shard differs from its manifest entry, or None if it matches.

    Args:
      path: the shard file.
      shard: its entry in the manifest.
      where: which shard it is, for the message (e.g. "shard 1 of split 'train' in ...").
      level: one of `CHECK_LEVELS`.
      bar: an optional tqdm bar advanced by the bytes hashed.

    Returns:
      A `RecordError` naming the file, what differs and the fix, or None.
    """
    if not path.is_file():
        return RecordError(path, f"is missing ({where})", FIX)
    if not os.access(path, os.R_OK):
        return RecordError(path, f"cannot be read ({where})", "Fix its permissions")
    if level == "exists":
        return None
    size = path.stat().st_size
    if size != shard.bytes:
        return RecordError(
            path,
            f"has {size} bytes but the manifest lists {shard.bytes} ({where}); it was "
            "truncated or rewritten after the manifest",
            FIX,
        )
    if level == "size":
        return None
    _, actual = file_sha256(path, bar)
    if actual != shard.sha256:
        return RecordError(
            path,
            f"has sha256 {actual} but the manifest lists {shard.sha256} ({where}); same size, "
            "so its content changed",
            FIX,
        )
    return None


def shard_problems(
    manifest: Manifest,
    record_dir: str | os.PathLike,
    splits: Iterable[str],
    level: str = "sha256",
    bar: Any | None = None,
) -> Iterator[RecordError]:
    """Yield `check_shard`'s problem for every shard of `splits` that differs, in manifest order.

    A generator: a caller that stops at the first problem checks no further shard.

    Raises:
      RecordError: the manifest has no such split.
    """
    manifest_path = Path(record_dir) / MANIFEST_NAME
    for split in splits:
        paths = manifest.shard_paths(record_dir, split)
        for idx, (shard, path) in enumerate(zip(manifest.splits[split].shards, paths, strict=True)):
            where = f"shard {idx} of split {split!r} in {manifest_path}"
            problem = check_shard(path, shard, where, level, bar)
            if problem is not None:
                yield problem


def fingerprint_problem(manifest: Manifest, record_dir: str | os.PathLike) -> RecordError | None:
    """Return an error naming ``manifest.json`` if its fingerprint is not the recomputed one."""
    recomputed = manifest.compute_fingerprint()
    if manifest.fingerprint == recomputed:
        return None
    return RecordError(
        Path(record_dir) / MANIFEST_NAME,
        f"has a fingerprint that does not match its schema, compression and shard hashes "
        f"(stored {manifest.fingerprint!r}, recomputed {recomputed!r}): the manifest was edited",
        FIX,
    )


def verify_shards(
    manifest: Manifest, record_dir: str | os.PathLike, split: str, mode: str | None = "size"
) -> list[Path]:
    """Check that `split`'s shards are the ones the manifest lists, and return their paths.

    Stops at the first problem (see `verify` for a check that collects them all).

    Args:
      manifest: the record directory's manifest.
      record_dir: the record directory.
      split: the split to check.
      mode: "size" (the manifest's fingerprint, and every shard exists, is readable and has the
        manifest's byte size: catches missing and truncated shards, cheap), "sha256" (also
        recomputes every shard's hash: catches any changed byte, reads everything) or None
        (every shard exists and is readable).

    Returns:
      The shard paths, in manifest order.

    Raises:
      RecordError: names the shard (or manifest) that does not match and how to fix it.
      ConfigError: `mode` is not one of `VERIFY_MODES` (named as the ``verify`` argument).
    """
    if mode not in VERIFY_MODES:
        raise ConfigError("verify", f"one of {VERIFY_MODES}", mode)
    paths = manifest.shard_paths(record_dir, split)
    if not paths:
        raise RecordError(
            Path(record_dir) / MANIFEST_NAME, f"lists no shards for split {split!r}", FIX
        )
    if mode is not None and (problem := fingerprint_problem(manifest, record_dir)) is not None:
        raise problem
    level = "exists" if mode is None else mode
    problem = next(shard_problems(manifest, record_dir, [split], level), None)
    if problem is not None:
        raise problem
    return paths


@dataclass(frozen=True)
class RunVerification:
    """What `verify_for_run` checked: the shards of `splits`, their bytes, and the time it took."""

    record_dir: str
    fingerprint: str
    splits: tuple[str, ...]
    shards: int
    bytes: int
    seconds: float

    def to_json(self) -> dict[str, Any]:
        """Return the fields as JSON values (what a run records)."""
        return {**asdict(self), "splits": list(self.splits), "seconds": round(self.seconds, 4)}


def verify_for_run(
    manifest: Manifest, record_dir: str | os.PathLike, splits: Iterable[str] | None = None
) -> RunVerification:
    """Check that the shards a run reads are the manifest's, byte for byte, before it reads them.

    The manifest's fingerprint must be the one recomputed from its schema and shard hashes,
    and every shard of `splits` must have the manifest's size and sha256 (`check_shard`). So
    shards rewritten after the manifest, or another dataset's manifest copied over these shards
    (same sizes, other hashes), are refused before anything trains.

    Args:
      manifest: the manifest the run reads the records with.
      record_dir: the record directory.
      splits: the splits the run reads (None: every split of the manifest).

    Returns:
      What was checked and how long it took.

    Raises:
      RecordError: the first shard (or the manifest) that does not match, named, with the fix.
    """
    started = time.perf_counter()
    chosen = tuple(manifest.splits if splits is None else splits)
    for split in chosen:
        if split not in manifest.splits:
            raise RecordError(
                Path(record_dir) / MANIFEST_NAME,
                f"has no split {split!r} (it has {sorted(manifest.splits)})",
                FIX,
            )
    if (problem := fingerprint_problem(manifest, record_dir)) is not None:
        raise problem
    problem = next(shard_problems(manifest, record_dir, chosen, "sha256"), None)
    if problem is not None:
        raise problem
    shards = [sh for split in chosen for sh in manifest.splits[split].shards]
    return RunVerification(
        record_dir=str(Path(record_dir).resolve()),
        fingerprint=manifest.fingerprint,
        splits=chosen,
        shards=len(shards),
        bytes=sum(sh.bytes for sh in shards),
        seconds=time.perf_counter() - started,
    )


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
    for split, info in manifest.splits.items():
        listed = sum(sh.records for sh in info.shards)
        if listed != info.num_examples:
            problems.append(
                RecordError(
                    manifest_path,
                    f"split {split!r} has num_examples {info.num_examples} but its shards "
                    f"hold {listed} records",
                    _RESERIALIZE,
                )
            )
    total = sum(sh.bytes for info in manifest.splits.values() for sh in info.shards)
    with tqdm(total=total, unit="B", unit_scale=True, desc="verify", disable=not progress) as bar:
        shard_errors = list(shard_problems(manifest, record_dir, manifest.splits, "sha256", bar))
    problems += shard_errors
    problems += _index_problems(manifest, record_dir, {p.path for p in shard_errors})
    if (problem := fingerprint_problem(manifest, record_dir)) is not None:
        problems.append(problem)
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


def _index_problems(
    manifest: Manifest, record_dir: Path, skip: set[str | None]
) -> list[RecordError]:
    """Check every shard's record index against its framing (shards in `skip` already failed)."""
    if manifest.compression not in COMPRESSIONS:  # reported already; cannot be decompressed
        return []
    problems = []
    for split, info in manifest.splits.items():
        for idx, shard in enumerate(info.shards):
            path = record_dir / shard.file
            if shard.record_lengths is None or str(path) in skip:
                continue
            problem = record_index.index_problem(
                path.read_bytes(), manifest.compression, shard.record_lengths, shard.records
            )
            if problem is not None:
                problems.append(
                    RecordError(
                        record_dir / MANIFEST_NAME,
                        f"has a record index that does not match {shard.file} (shard {idx} of "
                        f"split {split!r}): {problem}",
                        _RESERIALIZE,
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
