"""Names from outside are data, never paths: each is checked before it becomes part of a path.

A run archive (`reproml.runs.archive`) and a stored record (``run.json`` of a file store, a
MongoDB document) carry names that reproml turns into paths: archive members, artifact names,
the stored copies of sources and resources, md5s pasted into file names. Anyone who sends an
archive, or can edit a record, chooses them. Every such name goes through this module first:

* `name_problem` / `check_relative_name`: a plain relative POSIX name (no absolute name, no
  ``..`` or ``.`` part, no empty part, no backslash, no drive letter, no NUL or other control
  character); `check_file_name` also wants a single part;
* `check_md5`: 32 lower-case hex digits (an md5 is pasted into a stored file's name);
* `tar_member_kind` / `zip_member_kind`: a member is a plain file (or a directory where the
  caller allows one), never a symbolic or hard link, device, fifo, encrypted or unknown entry;
* `ByteBudget` / `copy_capped`: decompressed bytes are counted as they are read, never taken
  from a header, against a per-member and a total cap (a gzip bomb stops at the cap);
* `stored_file`, `stored_source`, `stored_resource`, `check_stored_run`: a name read from a
  stored record resolves to a file inside its run directory (or the store's ``_sources`` /
  ``_resources``), links followed, before push, export or show read it.

Every refusal is one `UnsafeNameError` line naming the member or field and what was expected.
"""

from __future__ import annotations

import dataclasses
import re
import stat
import tarfile
import zipfile
from pathlib import Path, PurePosixPath
from typing import IO, Any

from reproml.errors import UnsafeNameError
from reproml.runs.record import RunRecord
from reproml.errors import CliError

PLAIN_PATH = "a plain relative path inside the run"
PLAIN_FILE = "a plain file name inside the run directory"
_MD5 = re.compile(r"[0-9a-f]{32}")
_DRIVE = re.compile(r"[A-Za-z]:")
_ZIP_METHODS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA)


@dataclasses.dataclass(frozen=True)
class ArchiveLimits:
    """Caps on what an archive may decompress to (counted while reading, never trusted).

    Attributes:
      member_bytes: the largest member, decompressed.
      total_bytes: all members together, decompressed.
      members: the most members.
      header_bytes: the largest header (read into memory).
    """

    member_bytes: int = 4 << 30
    total_bytes: int = 8 << 30
    members: int = 100_000
    header_bytes: int = 16 << 20


def name_problem(name: Any) -> str | None:
    """Return why `name` is not a plain relative POSIX name, or None when it is one."""
    if not isinstance(name, str):
        return f"is a {type(name).__name__}, not a string"
    if not name:
        return "is empty"
    if "\x00" in name:
        return "holds a NUL byte"
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        return "holds a control character"
    if "\\" in name:
        return "holds a backslash"
    if name.startswith("/"):
        return "is absolute"
    if _DRIVE.match(name):
        return "starts with a drive letter"
    parts = name.split("/")
    if "" in parts:
        return "has an empty part"
    if ".." in parts:
        return "has a '..' part"
    if "." in parts:
        return "has a '.' part"
    return None


def _refuse(what: str, name: Any, problem: str, expected: str) -> UnsafeNameError:
    return UnsafeNameError(f"{what} {name!r} {problem}: expected {expected}; refused")


def check_relative_name(name: Any, what: str) -> str:
    """Return `name` if it is a plain relative POSIX name.

    Args:
      name: the name from outside.
      what: how to name it in the message, e.g. ``"run-3.tar.gz: member"``.

    Raises:
      UnsafeNameError: it is not (the message names it and what was expected).
    """
    problem = name_problem(name)
    if problem:
        raise _refuse(what, name, problem, PLAIN_PATH)
    return name


def check_file_name(name: Any, what: str) -> str:
    """Return `name` if it is one plain file name (a relative name of a single part).

    Raises:
      UnsafeNameError: it is not.
    """
    problem = name_problem(name) or ("has a '/'" if "/" in name else None)
    if problem:
        raise _refuse(what, name, problem, PLAIN_FILE)
    return name


def check_base_name(name: Any, what: str) -> str:
    """Return the last part of `name` (a source or resource name, only its base is used).

    Source names may legitimately climb out of the experiment's directory (Sacred records
    ``../lib/x.py``): they are data; only their base name becomes part of a stored file name.

    Raises:
      UnsafeNameError: `name` is not a string, holds a NUL or backslash, or ends in no plain name.
    """
    if not isinstance(name, str) or "\x00" in name or "\\" in name:
        problem = "holds a NUL byte or backslash" if isinstance(name, str) else "is not a string"
        raise _refuse(what, name, problem, "a name ending in a plain file name")
    base = PurePosixPath(name).name
    if name.endswith("/") or name_problem(base):
        raise _refuse(
            what, name, "ends in no plain file name", "a name ending in a plain file name"
        )
    return base


def check_md5(value: Any, what: str) -> str:
    """Return `value` if it is an md5 hex digest (32 lower-case hex digits).

    Raises:
      UnsafeNameError: it is not.
    """
    if not isinstance(value, str) or not _MD5.fullmatch(value):
        raise UnsafeNameError(f"{what} {value!r} is not an md5: expected 32 hex digits; refused")
    return value


def tar_member_kind(info: tarfile.TarInfo, what: str) -> str:
    """Return ``"file"`` or ``"dir"`` for a tar member; refuse every other kind.

    Raises:
      UnsafeNameError: a symbolic or hard link, a device, a fifo or another special member.
    """
    if info.isreg():
        return "file"
    if info.isdir():
        return "dir"
    if info.issym():
        kind = f"a symbolic link to {info.linkname!r}"
    elif info.islnk():
        kind = f"a hard link to {info.linkname!r}"
    elif info.ischr() or info.isblk():
        kind = "a device"
    elif info.isfifo():
        kind = "a fifo"
    else:
        kind = f"a special member (type {info.type!r})"
    raise UnsafeNameError(f"{what} {info.name!r} is {kind}: expected a plain file; refused")


def zip_member_kind(info: zipfile.ZipInfo, what: str) -> str:
    """Return ``"file"`` or ``"dir"`` for a zip member; refuse links, devices, encrypted members.

    Raises:
      UnsafeNameError: the member's Unix mode says link, device or fifo, it is encrypted, or
        its compression method is not one Python reads.
    """
    mode = info.external_attr >> 16
    if info.is_dir() or stat.S_ISDIR(mode):
        return "dir"
    problem = None
    if stat.S_ISLNK(mode):
        problem = "is a symbolic link"
    elif mode and stat.S_IFMT(mode) and not stat.S_ISREG(mode):
        problem = "is a device, fifo or socket"
    elif info.flag_bits & 0x1:
        problem = "is encrypted"
    elif info.compress_type not in _ZIP_METHODS:
        problem = f"uses compression method {info.compress_type}"
    if problem:
        raise UnsafeNameError(f"{what} {info.filename!r} {problem}: expected a plain file; refused")
    return "file"


@dataclasses.dataclass
class ByteBudget:
    """Decompressed bytes left for one archive (`ArchiveLimits.total_bytes` at the start)."""

    limits: ArchiveLimits
    used: int = 0

    def take(self, count: int, member_total: int, what: str, name: str) -> None:
        """Count `count` more bytes of member `name` (`member_total` read of it so far).

        Raises:
          UnsafeNameError: the member or the archive grew beyond its cap.
        """
        self.used += count
        if member_total > self.limits.member_bytes:
            raise UnsafeNameError(
                f"{what} {name!r} decompresses to more than {self.limits.member_bytes} bytes: "
                "expected a smaller member; refused"
            )
        if self.used > self.limits.total_bytes:
            raise UnsafeNameError(
                f"{what} {name!r} takes the archive beyond {self.limits.total_bytes} bytes "
                "decompressed: expected a smaller archive; refused"
            )


def copy_capped(
    src: IO[bytes], dst: IO[bytes] | None, budget: ByteBudget, what: str, name: str, *hashes: Any
) -> int:
    """Copy `src` to `dst` (or nowhere) in chunks, counting against `budget`; update `hashes`.

    Returns:
      The number of bytes copied.

    Raises:
      UnsafeNameError: the member or the archive grew beyond its cap (nothing more is read).
    """
    total = 0
    for chunk in iter(lambda: src.read(1 << 20), b""):
        total += len(chunk)
        budget.take(len(chunk), total, what, name)
        for digest in hashes:
            digest.update(chunk)
        if dst is not None:
            dst.write(chunk)
    return total


def stored_file(base: Path, name: Any, what: str) -> Path:
    """Return ``base/name`` for a plain file name `name` whose file (links followed) is in `base`.

    Raises:
      UnsafeNameError: `name` is not a plain file name, or its file is a link leading out.
    """
    check_file_name(name, what)
    path = base / name
    if path.exists() and not path.resolve().is_relative_to(base.resolve()):
        raise UnsafeNameError(
            f"{what} {name!r} is a link to {path.resolve()}: expected a file inside {base}; refused"
        )
    return path


def stored_source(root: Path, stored: Any, what: str) -> Path:
    """Return the stored copy of a source of a file-store run (``_sources/<name>`` in `root`).

    Raises:
      UnsafeNameError: the stored name is not ``_sources/<plain file name>``.
    """
    check_relative_name(stored, what)
    parts = stored.split("/")
    if len(parts) != 2 or parts[0] != "_sources":
        raise _refuse(what, stored, "is not in _sources", "'_sources/<file name>' in the store")
    return stored_file(root / "_sources", parts[1], what)


def stored_resource(root: Path, stored: Any, what: str) -> Path:
    """Return the stored copy of a resource of a file-store run, in `root`'s ``_resources``.

    Sacred records the copy's path as it was when the run wrote it (absolute, or relative to
    the directory it ran in); only its base name is used, looked up in this store's
    ``_resources``, so a record never makes reproml read a file elsewhere.

    Raises:
      UnsafeNameError: the stored path is not ``.../_resources/<plain file name>``.
    """
    expected = "'<store>/_resources/<file name>'"
    if not isinstance(stored, str) or "\x00" in stored or "\\" in stored:
        raise _refuse(what, stored, "is not a plain path", expected)
    path = PurePosixPath(stored)
    if path.parent.name != "_resources" or name_problem(path.name):
        raise _refuse(what, stored, "is not in _resources", expected)
    return stored_file(root / "_resources", path.name, what)


def check_stored_run(run: RunRecord, root: Path | None) -> None:
    """Check every name a stored run gives for a file before anything reads it.

    Artifacts of either store; the stored sources and resources of a file-store run (`root`:
    its store directory; None for a MongoDB run).

    Raises:
      UnsafeNameError: the first name that is not a plain name inside the run (or its store).
    """
    where = f"run {run.run_id}: {'run.json' if root is not None else 'document'}"
    run_dir = Path(run.location) if root is not None else None
    for name in run.artifacts:
        if run_dir is not None:
            stored_file(run_dir, name, f"{where} artifact")
        else:
            check_file_name(name, f"{where} artifact")
    if root is None:
        return
    for item in (run.raw.get("experiment") or {}).get("sources") or []:
        if not isinstance(item, list | tuple) or len(item) != 2:
            raise UnsafeNameError(f"{where} source {item!r}: expected [name, stored path]; refused")
        stored_source(root, item[1], f"{where} source {item[0]!r} stored as")
    for item in run.raw.get("resources") or []:
        if not isinstance(item, list | tuple) or len(item) != 2:
            raise UnsafeNameError(
                f"{where} resource {item!r}: expected [name, stored path]; refused"
            )
        if item[1] is not None:
            stored_resource(root, item[1], f"{where} resource {item[0]!r} stored as")
