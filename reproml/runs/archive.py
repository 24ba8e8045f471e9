"""One run as one file: export it from either store, import it into either store on any machine.

An archive (``.tar.gz`` or ``.zip``, chosen by the name) holds the run in the file store's
layout, whichever store it came from, plus a JSON header::

    reproml-archive.json        format, version, origin store, original id, the list below,
                                and the sha256 of every other member
    run/run.json ...            run.json, config.json, info.json, metrics.json, cout.txt,
                                omniboard.json (tags and note), as stored
    artifacts/<name>            every artifact of the run (the SavedModel zip, the PNGs, ...)
    sources/<md5>/<file>        the stored copy of every source file of the run
    resources/<md5>/<file>      the stored copy of every resource (the dataset manifest); a
                                resource MongoDB recorded by md5 only has no member

A run read from MongoDB is turned into that layout (times as ISO strings, metrics from the
``metrics`` collection, artifacts and sources from GridFS); ``info["metrics"]`` (ids in the
origin database) is left out, as `reproml.runs.push` does. The archive is deterministic (sorted
members, no timestamps): the same run exports to the same bytes.

Import checks the header and the sha256 of every member before anything is added (a damaged
or altered archive is refused, naming the member), and every name in it the way
`reproml.runs.safe_names` says (members, artifact names, sources, resources and md5s are
data, never paths: links, ``..``, absolute names, devices, duplicates and bombs are refused),
then adds the run under a NEW id:

* file store: the run directory is assembled in a hidden staging directory of the store, the
  next free id is claimed with ``mkdir`` (as Sacred's `FileStorageObserver` claims it, so a live
  run never gets the same id) and the assembled directory is renamed onto it: the run appears
  whole or not at all. Sources and resources go to ``_sources/`` / ``_resources/`` through
  `reproml.runs.file_store.shared_copy` (shared copies, reused when the content matches);
* MongoDB: the assembled run is replayed through Sacred's `MongoObserver`
  (`reproml.runs.push.replay`), which claims the id; the provenance's ``archive_sha256`` is
  written last, so an import killed half-way is deleted and redone by the next import.

Either way ``meta.imported_from`` records where it came from (origin store, original id, the
archive's name and sha256, and ``content_sha256``, the digest of its members). Importing an
archive whose content is already in the store adds nothing: "already imported as run N".
"""

from __future__ import annotations

import bz2
import contextlib
import dataclasses
import datetime as dt
import fcntl
import gzip
import hashlib
import io
import json
import lzma
import os
import re
import shutil
import socket
import tarfile
import tempfile
import uuid
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any

from reproml.records.atomic_write import atomic_output, write_atomic
from reproml.runs.annotations import ANNOTATIONS_FILE, is_mongo_run
from reproml.runs.file_store import read_json, shared_copy
from reproml.runs.record import RunRecord, run_sort_key
from reproml.errors import CliError
from reproml.runs.safe_names import ArchiveLimits, ByteBudget, check_base_name, check_file_name, check_md5, check_relative_name, check_stored_run, copy_capped, stored_file, stored_resource, stored_source, tar_member_kind, zip_member_kind
from reproml.errors import UnsafeNameError
from reproml.runs.seal import SEAL_FILE, check_run, check_run_dir, read_seal_file
from reproml.runs.mongo import gridfs_of
from reproml.runs.annotations import omniboard_fields
from reproml.runs.file_store import load_run_dir
from reproml.runs.mongo import gridfs_of
from reproml.runs.push import delete_run, replay

FORMAT = "reproml-run-archive"
VERSION = 1
HEADER = "reproml-archive.json"
RUN_FILES = (
    *("run.json", "config.json", "info.json", "metrics.json", "cout.txt", ANNOTATIONS_FILE),
    SEAL_FILE,
)
SUFFIXES = {".tar.gz": "tar.gz", ".tgz": "tar.gz", ".zip": "zip"}
CHUNK = 1 << 20
TOP_DIRS = ("run", "artifacts", "sources", "resources")  # directory members a tar may hold
DEFAULT_LIMITS = ArchiveLimits()
_SHA256 = re.compile(r"[0-9a-f]{64}")
# What a damaged compressed stream raises while a member is read.
_DAMAGE = (
    tarfile.TarError,
    zipfile.BadZipFile,
    zlib.error,
    EOFError,
    gzip.BadGzipFile,
    lzma.LZMAError,
)


@dataclasses.dataclass(frozen=True)
class Exported:
    """An archive written by `export_run`."""

    path: Path
    members: int
    size: int
    sha256: str


@dataclasses.dataclass(frozen=True)
class Imported:
    """The outcome of `import_archive`: ``"imported"`` or ``"already imported"``, and the id."""

    outcome: str
    run_id: str
    original_id: str
    origin: str


# ------------------------------------------------------------------------------- export


def archive_kind(path: str | os.PathLike) -> str:
    """Return ``"tar.gz"`` or ``"zip"`` from the archive's name.

    Raises:
      CliError: the name ends in none of ``.tar.gz``, ``.tgz``, ``.zip``.
    """
    name = str(path).lower()
    for suffix, kind in SUFFIXES.items():
        if name.endswith(suffix):
            return kind
    raise CliError(f"{path}: expected an archive name ending in .tar.gz, .tgz or .zip")


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def _json_bytes(obj: Any) -> bytes:
    return (json.dumps(obj, sort_keys=True, indent=2, default=_json_default) + "\n").encode()


def _json_default(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if type(value).__name__ == "ObjectId":  # a GridFS id left in a MongoDB document
        return str(value)
    raise CliError(f"cannot write {type(value).__name__} {value!r} to JSON")


def _basename(name: str) -> str:
    return PurePosixPath(str(name).replace("\\", "/")).name


def collect_run(store: Any, run: RunRecord) -> tuple[dict[str, Any], dict[str, bytes]]:
    """Return the header (without ``members``) and the members of `run` (name -> bytes).

    Raises:
      CliError: the run is still running, does not match its seal, or a file it lists
        (artifact, source, resource) is missing from its store.
      UnsafeNameError: a name in its record is not a plain name inside the run
        (`reproml.runs.safe_names.check_stored_run`): nothing outside the run is packed.
    """
    if run.status == "RUNNING" and not run.probably_dead():
        raise CliError(f"run {run.run_id} is still running: export it once it has ended")
    mongo = is_mongo_run(run)
    check_stored_run(run, None if mongo else Path(run.location).parent)
    sealed = check_run(store, run, full=True)
    if sealed.tampered:
        raise CliError(
            f"run {run.run_id} not exported, it does not match its seal: {sealed.summary()}"
        )
    if mongo:
        entry, files, artifacts, sources, resources = _collect_mongo(store, run)
        origin = {"store": "mongodb", "location": store.description}
    else:
        entry, files, artifacts, sources, resources = _collect_dir(Path(run.location), run)
        origin = {"store": "file", "location": str(Path(run.location).parent.resolve())}
    origin["hostname"] = socket.gethostname()
    members = {f"run/{name}": data for name, data in files.items()}
    if entry is not None:
        members["run/run.json"] = _json_bytes(entry)
    header_sources, header_resources, header_artifacts = [], [], []
    for name, data in sources:
        member = f"sources/{_md5(data)}/{_basename(name)}"
        members[member] = data
        header_sources.append({"name": name, "member": member, "md5": _md5(data)})
    for filename, md5, data in resources:
        member = None if data is None else f"resources/{md5}/{_basename(filename)}"
        if data is not None:
            members[member] = data
        header_resources.append({"filename": filename, "member": member, "md5": md5})
    for name, data in artifacts:
        members[f"artifacts/{name}"] = data
        header_artifacts.append({"name": name, "member": f"artifacts/{name}"})
    header = {
        "format": FORMAT,
        "version": VERSION,
        "origin": origin,
        "original_id": run.run_id,
        "experiment": run.experiment,
        "status": run.status,
        "start_time": run.start_time.isoformat() if run.start_time else None,
        "artifacts": header_artifacts,
        "sources": header_sources,
        "resources": header_resources,
    }
    return header, members


def _collect_dir(run_dir: Path, run: RunRecord) -> tuple:
    """A file-store run: its files as they are on disk."""
    root = run_dir.parent
    files = {n: (run_dir / n).read_bytes() for n in RUN_FILES if (run_dir / n).is_file()}
    artifacts = []
    where = f"run {run.run_id}: run.json"
    for name in run.artifacts:
        path = stored_file(run_dir, name, f"{where} artifact")
        if not path.is_file():
            raise CliError(f"run {run.run_id}: artifact {name!r} is listed but {path} is missing")
        artifacts.append((name, path.read_bytes()))
    sources = []
    for name, stored in (run.raw.get("experiment") or {}).get("sources") or []:
        path = stored_source(root, stored, f"{where} source {name!r} stored as")
        if not path.is_file():
            raise CliError(f"run {run.run_id}: source {name!r} is missing from {path}")
        check_base_name(name, f"{where} source")
        sources.append((name, path.read_bytes()))
    resources = []
    for filename, stored in run.raw.get("resources") or []:
        what = f"{where} resource {filename!r} stored as"
        path = stored_resource(root, stored, what) if stored else None
        if path is None or not path.is_file():
            raise CliError(f"run {run.run_id}: resource {filename!r} is missing from {stored}")
        check_base_name(filename, f"{where} resource")
        data = path.read_bytes()
        resources.append((filename, _md5(data), data))
    return None, files, artifacts, sources, resources


def _collect_mongo(store: Any, run: RunRecord) -> tuple:
    """A MongoDB run: its document, metrics and GridFS files in the file store's layout."""

    fs = gridfs_of(store.db)
    doc = run.raw
    skip = ("_id", "config", "info", "captured_out", "omniboard", "format", "seal")
    entry = {k: v for k, v in doc.items() if k not in skip}
    experiment = dict(doc.get("experiment") or {})
    sources, stored_sources = [], []
    where = f"run {run.run_id}: document"
    for name, file_id in experiment.get("sources") or []:
        check_base_name(name, f"{where} source")
        data = fs.get(file_id).read()
        sources.append((name, data))
        stem, ext = os.path.splitext(_basename(name))
        stored_sources.append([name, f"_sources/{stem}_{_md5(data)}{ext}"])
    experiment["sources"] = stored_sources
    entry["experiment"] = experiment
    resources, stored_resources = [], []
    for filename, md5 in doc.get("resources") or []:
        check_base_name(filename, f"{where} resource")
        check_md5(md5, f"{where} resource {filename!r} md5")
        found = fs.find_one({"filename": filename, "md5": md5})
        data = found.read() if found is not None else None
        resources.append((filename, md5, data))
        stem, ext = os.path.splitext(_basename(filename))
        stored_resources.append([filename, f"_resources/{stem}_{md5}{ext}" if data else None])
    entry["resources"] = stored_resources
    entry["artifacts"] = [a["name"] for a in doc.get("artifacts") or []]
    artifacts = [(a["name"], fs.get(a["file_id"]).read()) for a in doc.get("artifacts") or []]
    metrics = {
        name: {
            "steps": list(series.get("steps", [])),
            "values": list(series.get("values", [])),
            "timestamps": [
                t.isoformat() if isinstance(t, dt.datetime) else t
                for t in series.get("timestamps", [])
            ],
        }
        for name, series in sorted(run.metrics.items())
    }
    files = {
        "config.json": _json_bytes(doc.get("config") or {}),
        "info.json": _json_bytes(
            {k: v for k, v in (doc.get("info") or {}).items() if k != "metrics"}
        ),
        "metrics.json": _json_bytes(metrics),
    }
    if doc.get("captured_out"):
        files["cout.txt"] = str(doc["captured_out"]).encode("utf-8")
    if doc.get("seal") is not None:
        files[SEAL_FILE] = _json_bytes(doc["seal"])
    omniboard = doc.get("omniboard") or {}
    if omniboard.get("tags") or omniboard.get("notes"):
        files[ANNOTATIONS_FILE] = _json_bytes(
            {"tags": list(omniboard.get("tags") or []), "notes": str(omniboard.get("notes") or "")}
        )
    return entry, files, artifacts, sources, resources


def export_run(store: Any, run: RunRecord, path: str | os.PathLike) -> Exported:
    """Write `run` of `store` to the archive `path` (atomically; see the module docstring).

    Raises:
      CliError: the name has no archive suffix, or `collect_run` refuses the run.
    """
    path = Path(path)
    kind = archive_kind(path)
    header, members = collect_run(store, run)
    header["members"] = {name: _sha256(data) for name, data in sorted(members.items())}
    entries = [(HEADER, _json_bytes(header)), *sorted(members.items())]
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(path) as out:
        if kind == "zip":
            _write_zip(out, entries)
        else:
            _write_tar_gz(out, entries)
    data_sha = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(CHUNK), b""):
            data_sha.update(chunk)
    return Exported(path, len(members), path.stat().st_size, data_sha.hexdigest())


def _write_tar_gz(out: Any, entries: list[tuple[str, bytes]]) -> None:
    with (
        gzip.GzipFile(filename="", mode="wb", fileobj=out, mtime=0) as gz,
        tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar,
    ):
        for name, data in entries:
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(data), 0, 0o644
            tar.addfile(info, io.BytesIO(data))


def _write_zip(out: Any, entries: list[tuple[str, bytes]]) -> None:
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries:
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type, info.external_attr = zipfile.ZIP_DEFLATED, 0o644 << 16
            archive.writestr(info, data)


# ------------------------------------------------------------------------------- import


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


class _CappedStream:
    """The decompressed stream of a tar archive, refused once it grows beyond `cap` bytes.

    `tarfile` reads a member's extended (pax, GNU long name) header into memory whatever size
    its header claims: counting here bounds that too, not only the members' data.
    """

    def __init__(self, raw: Any, cap: int, path: Path) -> None:
        self.raw, self.cap, self.path, self.count = raw, cap, path, 0

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:  # all of it: in chunks, so the cap stops it early
            return b"".join(iter(lambda: self.read(CHUNK), b""))
        data = self.raw.read(size)
        self.count += len(data)
        if self.count > self.cap:
            raise UnsafeNameError(
                f"{self.path} decompresses to more than {self.cap} bytes: expected a smaller "
                "archive; refused"
            )
        return data


_EXTENDED = (
    tarfile.XHDTYPE,
    tarfile.XGLTYPE,
    tarfile.SOLARIS_XHDTYPE,
    tarfile.GNUTYPE_LONGNAME,
    tarfile.GNUTYPE_LONGLINK,
)


def _capped_tarinfo(limit: int, path: Path) -> type[tarfile.TarInfo]:
    """A `TarInfo` that refuses an extended header (pax, GNU long name) beyond `limit` bytes."""

    class CappedTarInfo(tarfile.TarInfo):
        # `_proc_member` is tarfile's hook "which can be overridden in a subclass" (its source
        # says so): it runs before the header's `size` bytes are read into memory.
        def _proc_member(self, tar: tarfile.TarFile) -> tarfile.TarInfo:
            if self.type in _EXTENDED and self.size > limit:
                raise UnsafeNameError(
                    f"{path}: an extended tar header (pax or GNU long name) of {self.size} "
                    f"bytes: expected at most {limit}; refused"
                )
            return super()._proc_member(tar)

    return CappedTarInfo


def _decompressed(f: Any) -> Any:
    """The tar stream inside `f`: gzip (what export writes), bzip2, xz or none."""
    magic = f.read(6)
    f.seek(0)
    if magic.startswith(b"\x1f\x8b"):
        return gzip.GzipFile(fileobj=f, mode="rb")
    if magic.startswith(b"BZh"):
        return bz2.BZ2File(f)
    if magic.startswith(b"\xfd7zXZ"):
        return lzma.LZMAFile(f)
    return f


@contextlib.contextmanager
def _entries(path: Path, limits: ArchiveLimits) -> Iterator[Iterator[tuple[str, str, Any]]]:
    """Yield an iterator of (member name, ``"file"`` or ``"dir"``, opener) over the archive.

    Links, devices and other special members are refused (`reproml.runs.safe_names`); a tar
    archive is read as a stream (each member once, in order) whose size is capped.
    """
    what = f"{path}: member"
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
            if len(infos) > limits.members:
                raise UnsafeNameError(
                    f"{path} holds {len(infos)} members: expected at most {limits.members}; refused"
                )

            def zip_entries() -> Iterator[tuple[str, str, Any]]:
                for info in infos:
                    kind = zip_member_kind(info, what)
                    yield info.filename, kind, (lambda i=info: archive.open(i))

            yield zip_entries()
        return
    overhead = 4096 * limits.members + (1 << 20)  # tar headers and padding around the data
    with open(path, "rb") as raw:
        try:
            stream = _CappedStream(_decompressed(raw), limits.total_bytes + overhead, path)
            tarinfo = _capped_tarinfo(limits.header_bytes, path)
            tar = tarfile.open(fileobj=stream, mode="r|", tarinfo=tarinfo)
        except (tarfile.TarError, OSError, EOFError, zlib.error, lzma.LZMAError) as err:
            raise CliError(
                f"{path} is not a reproml run archive (neither .tar.gz nor .zip): {err}"
            ) from None
        with tar:

            def tar_entries() -> Iterator[tuple[str, str, Any]]:
                for info in tar:
                    kind = tar_member_kind(info, what)
                    yield info.name, kind, (lambda i=info: tar.extractfile(i))

            yield tar_entries()


def read_archive(
    path: str | os.PathLike, staging: Path, limits: ArchiveLimits = DEFAULT_LIMITS
) -> dict[str, Any]:
    """Check the archive `path` member by member into `staging`; return its header.

    Every member name is checked to be a plain relative name (`reproml.runs.safe_names`) and
    every member a plain file before it is streamed to ``staging/<member>``, counted against
    `limits` while its sha256 is computed, and compared with the header's. The header's names
    (artifacts, sources, resources, md5s) are checked the same way, the md5s against the
    content, and ``run/run.json``'s artifacts against the header's. Nothing outside `staging`
    is written.

    Raises:
      CliError: not an archive, no or bad header, a newer format, a member damaged, altered,
        missing, duplicated, unexpected or not a plain file (the message names it).
      UnsafeNameError: a name that is not a plain name inside the run, a link, a device, a
        directory where a file belongs, a member or archive beyond `limits`.
    """
    path = Path(path)
    if not path.is_file():
        raise CliError(f"{path} does not exist")
    what = f"{path}: member"
    header: dict[str, Any] | None = None
    seen: dict[str, str] = {}
    md5s: dict[str, str] = {}
    files: set[str] = set()
    dirs: set[str] = set()
    budget = ByteBudget(limits)
    count = 0
    try:
        with _entries(path, limits) as entries:
            for name, kind, opener in entries:
                count += 1
                if count > limits.members:
                    raise UnsafeNameError(
                        f"{path} holds more than {limits.members} members: expected fewer; refused"
                    )
                if kind == "dir":
                    check_relative_name(name[:-1] if name.endswith("/") else name, what)
                    if name.rstrip("/") in TOP_DIRS:
                        continue
                    raise UnsafeNameError(
                        f"{what} {name!r} is a directory: expected a plain file; refused"
                    )
                check_relative_name(name, what)
                if name in files:
                    raise CliError(f"{path}: member {name!r} appears twice; refused")
                parents = {str(p) for p in PurePosixPath(name).parents if str(p) != "."}
                if name in dirs or parents & files:
                    raise UnsafeNameError(
                        f"{what} {name!r} is both a file and a directory: expected one plain "
                        "file per name; refused"
                    )
                files.add(name)
                dirs |= parents
                if name == HEADER:
                    header = _read_header(path, opener, limits)
                    continue
                target = staging / name
                target.parent.mkdir(parents=True, exist_ok=True)
                sha, md5 = hashlib.sha256(), hashlib.md5()
                try:
                    with opener() as src, open(target, "xb") as dst:
                        copy_capped(src, dst, budget, what, name, sha, md5)
                except _DAMAGE as err:
                    raise CliError(f"{path}: member {name} is damaged ({err}); refused") from None
                seen[name], md5s[name] = sha.hexdigest(), md5.hexdigest()
    except _DAMAGE as err:
        raise CliError(f"{path} is damaged ({err}); refused") from None
    if header is None:
        raise CliError(f"{path} has no {HEADER}: not a run archive made by `reproml export`")
    expected = header["members"]
    for name, sha in seen.items():
        if name not in expected:
            raise CliError(f"{path}: member {name} is not listed in {HEADER}; refused")
        if sha != expected[name]:
            raise CliError(
                f"{path}: member {name} is damaged or altered (sha256 {sha[:12]}..., the header "
                f"says {expected[name][:12]}...); refused"
            )
    missing = sorted(set(expected) - set(seen))
    if missing:
        raise CliError(f"{path}: member {missing[0]} is listed in {HEADER} but missing; refused")
    _check_md5s(path, header, md5s)
    _check_run_entry(path, staging, header)
    return header


def _read_header(path: Path, opener: Any, limits: ArchiveLimits) -> dict[str, Any]:
    try:
        with opener() as f:
            data = f.read(limits.header_bytes + 1)
    except _DAMAGE as err:
        raise CliError(f"{path}: member {HEADER} is damaged ({err}); refused") from None
    if len(data) > limits.header_bytes:
        raise UnsafeNameError(
            f"{path}: member {HEADER!r} is larger than {limits.header_bytes} bytes: expected a "
            "header of a run; refused"
        )
    try:
        header = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as err:
        raise CliError(f"{path}: {HEADER} is not JSON ({err}); refused") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise CliError(f"{path}: {HEADER} is not a {FORMAT} header; refused")
    if not isinstance(header.get("version"), int) or header["version"] > VERSION:
        raise CliError(
            f"{path}: archive format version {header.get('version')!r}; this reproml reads "
            f"versions up to {VERSION} (upgrade reproml)"
        )
    for key, kind in (("members", dict), ("sources", list), ("resources", list)):
        if not isinstance(header.get(key), kind):
            raise CliError(f"{path}: {HEADER} has no {key!r} {kind.__name__}; refused")
    if not isinstance(header.get("artifacts"), list):
        raise CliError(f"{path}: {HEADER} has no 'artifacts' list; refused")
    for key in ("artifacts", "sources", "resources"):
        for item in header[key]:
            member = item.get("member") if isinstance(item, dict) else None
            if member is not None and member not in header["members"]:
                raise CliError(f"{path}: {HEADER} {key} names {member!r}, not a member; refused")
    _check_header_names(path, header)
    return header


def _check_header_names(path: Path, header: dict[str, Any]) -> None:
    """Refuse a header whose names are not plain names or whose md5s are not md5s."""
    where = f"{path}: {HEADER}"
    for name, sha in header["members"].items():
        check_relative_name(name, f"{where} member")
        if not isinstance(sha, str) or not _SHA256.fullmatch(sha):
            raise CliError(f"{where} member {name!r}: sha256 {sha!r} is not 64 hex digits; refused")
    artifacts: dict[str, str] = {}
    for i, item in enumerate(header["artifacts"]):
        field = f"{where} artifacts[{i}]"
        if not isinstance(item, dict):
            raise CliError(f"{field} is a {type(item).__name__}: expected an object; refused")
        name = check_file_name(item.get("name"), f"{field}.name")
        if name in RUN_FILES or name.startswith("."):
            raise UnsafeNameError(
                f"{field}.name {name!r} is a run file or hidden: expected an artifact name; refused"
            )
        member = _listed_member(header, item, field, "artifacts/")
        if artifacts.setdefault(name, member) != member:
            raise UnsafeNameError(f"{field}.name {name!r} appears twice; refused")
    for key, name_key in (("sources", "name"), ("resources", "filename")):
        for i, item in enumerate(header[key]):
            field = f"{where} {key}[{i}]"
            if not isinstance(item, dict):
                raise CliError(f"{field} is a {type(item).__name__}: expected an object; refused")
            check_base_name(item.get(name_key), f"{field}.{name_key}")
            check_md5(item.get("md5"), f"{field}.md5")
            if key == "sources" or item.get("member") is not None:
                _listed_member(header, item, field, f"{key}/")


def _listed_member(header: dict[str, Any], item: dict[str, Any], field: str, under: str) -> str:
    member = item.get("member")
    if not isinstance(member, str) or not member.startswith(under):
        raise UnsafeNameError(
            f"{field}.member {member!r} is not under {under}: expected a member there; refused"
        )
    if member not in header["members"]:
        raise CliError(f"{field}.member {member!r} is not a member; refused")
    return member


def _check_md5s(path: Path, header: dict[str, Any], md5s: dict[str, str]) -> None:
    """Refuse a source or resource whose md5 in the header is not that of its content."""
    for key in ("sources", "resources"):
        for i, item in enumerate(header[key]):
            member = item.get("member")
            if member is not None and md5s.get(member) != item["md5"]:
                raise CliError(
                    f"{path}: {HEADER} {key}[{i}].md5 {item['md5']!r} is not the md5 of member "
                    f"{member} ({md5s.get(member)}); refused"
                )


def _check_run_entry(path: Path, staging: Path, header: dict[str, Any]) -> None:
    """Refuse a run/run.json whose artifacts are not plain names or not those the archive holds."""
    for required in ("run.json", "config.json"):
        if not (staging / "run" / required).is_file():
            raise CliError(f"{path}: archive has no run/{required}: not a run")
    try:
        entry = json.loads((staging / "run" / "run.json").read_text(encoding="utf-8"))
    except (UnicodeDecodeError, ValueError) as err:
        raise CliError(f"{path}: member run/run.json is not JSON ({err}); refused") from None
    if not isinstance(entry, dict):
        raise CliError(f"{path}: member run/run.json is not a JSON object; refused")
    listed = entry.get("artifacts") or []
    field = f"{path}: member run/run.json artifact"
    if not isinstance(listed, list):
        raise CliError(f"{field}s is a {type(listed).__name__}: expected a list; refused")
    held = {item["name"] for item in header["artifacts"]}
    for name in listed:
        check_file_name(name, field)
        if name not in held:
            raise CliError(f"{field} {name!r} is not in the archive's artifacts; refused")
    unlisted = sorted(held - set(listed))
    if unlisted:
        raise CliError(
            f"{path}: {HEADER} artifact {unlisted[0]!r} is not listed in run/run.json; refused"
        )


def content_digest(header: dict[str, Any]) -> str:
    """Return the digest that identifies an archive's run: its origin, original id and members."""
    key = {k: header[k] for k in ("origin", "original_id", "members")}
    return _sha256(json.dumps(key, sort_keys=True).encode())


def provenance(header: dict[str, Any], archive: Path, archive_sha256: str) -> dict[str, Any]:
    """Return ``meta.imported_from`` for a run imported from `archive`."""
    return {
        "origin": header["origin"],
        "original_id": header["original_id"],
        "archive": archive.name,
        "archive_sha256": archive_sha256,
        "content_sha256": content_digest(header),
        "format_version": header["version"],
    }


def _assemble_run_dir(staging: Path, header: dict[str, Any]) -> tuple[Path, dict[str, Any]]:
    """Move the artifacts next to the run files in ``staging/run``; return it and run.json.

    The names were checked by `read_archive` (plain file names, each member once).
    """
    run_dir = staging / "run"
    moved = set()
    for artifact in header["artifacts"]:
        name = check_file_name(artifact["name"], "archive artifact")
        if name not in moved:  # Sacred lists an artifact added twice twice
            os.replace(staging / artifact["member"], run_dir / name)
            moved.add(name)
    entry = read_json(run_dir / "run.json", required=True)
    return run_dir, entry


def import_archive(
    path: str | os.PathLike,
    store: Any,
    limits: ArchiveLimits = DEFAULT_LIMITS,
    public_key: Any = None,
) -> Imported:
    """Import the archive `path` into `store` (a `FileStore` or a `MongoStore`).

    Args:
      path: the archive.
      store: where to add the run.
      limits: caps on the archive's decompressed size (`read_archive`).
      public_key: a trusted Ed25519 public key: the run's seal must be signed by it.

    Raises:
      CliError: the archive is refused by `read_archive` (before anything is added to the
        store), is not a run, or its run does not match its seal (`check_staged_seal`).
    """
    path = Path(path)
    archive_sha = _file_sha256(path) if path.is_file() else ""
    if hasattr(store, "db"):
        with tempfile.TemporaryDirectory(prefix="reproml-import-") as tmp:
            header = read_archive(path, Path(tmp), limits)
            return _import_into_mongo(store.db, header, Path(tmp), path, archive_sha, public_key)
    root = Path(store.root)
    root.mkdir(parents=True, exist_ok=True)
    staging = root / f".import-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    staging.mkdir()
    try:
        header = read_archive(path, staging, limits)
        with _store_lock(root):
            return _import_into_dir(root, header, staging, path, archive_sha, public_key)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def check_staged_seal(run_dir: Path, archive: Path, public_key: Any = None) -> None:
    """Check the staged run against the seal it carries (`reproml.runs.seal`), before any write.

    The members' sha256 in the header is a checksum anyone can recompute; the seal binds the
    run's record and artifacts, and its signature (checked with `public_key`) binds the seal.

    Raises:
      CliError: a part or artifact does not match the seal (each named), the seal is missing
        or unsigned while a trusted key is given, or its signature is not by that key.
    """
    if not (run_dir / SEAL_FILE).is_file():
        if public_key is not None:
            raise CliError(f"{archive}: refused, its run has no seal and a trusted key was given")
        return
    check = check_run_dir(run_dir, public_key)
    if check.tampered:
        raise CliError(f"{archive}: refused, its run does not match its seal: {check.summary()}")


def _origin_text(header: dict[str, Any]) -> str:
    origin = header["origin"]
    return f"{origin.get('store')} {origin.get('location')} on {origin.get('hostname')}"


@contextlib.contextmanager
def _store_lock(root: Path) -> Iterator[None]:
    """Hold an exclusive lock on the store's imports (released when the process dies)."""
    with open(root / ".import.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _already_in_dir(root: Path, content: str) -> str | None:
    for run_dir in sorted(root.iterdir(), key=lambda p: run_sort_key(p.name)):
        if not run_dir.is_dir() or run_dir.name.startswith(("_", ".")):
            continue
        try:
            entry = read_json(run_dir / "run.json", required=True)
        except Exception:  # noqa: BLE001 - a corrupt run is not this import
            continue
        imported = (entry.get("meta") or {}).get("imported_from") or {}
        if imported.get("content_sha256") == content:
            return run_dir.name
    return None


def _import_into_dir(
    root: Path,
    header: dict[str, Any],
    staging: Path,
    archive: Path,
    archive_sha: str,
    public_key: Any,
) -> Imported:
    imported_from = provenance(header, archive, archive_sha)
    original, origin = str(header["original_id"]), _origin_text(header)
    existing = _already_in_dir(root, imported_from["content_sha256"])
    if existing is not None:
        return Imported("already imported", existing, original, origin)
    run_dir, entry = _assemble_run_dir(staging, header)
    check_staged_seal(run_dir, archive, public_key)
    sources = []
    for source in header["sources"]:
        stored = shared_copy(staging / source["member"], root / "_sources")
        sources.append([source["name"], os.path.relpath(stored, root)])
    resources = []
    for resource in header["resources"]:
        stored = None
        if resource["member"]:
            found = shared_copy(staging / resource["member"], root / "_resources")
            stored = str(Path(found).resolve())
        resources.append([resource["filename"], stored])
    entry.setdefault("experiment", {})["sources"] = sources
    entry["resources"] = resources
    entry["meta"] = {**(entry.get("meta") or {}), "imported_from": imported_from}
    write_atomic(run_dir / "run.json", json.dumps(entry, sort_keys=True, indent=2))
    run_id = _claim_run_id(root)
    os.replace(run_dir, root / run_id)  # onto the empty directory claimed for it
    return Imported("imported", run_id, original, origin)


def _claim_run_id(root: Path) -> str:
    """Claim the next free id as Sacred's `FileStorageObserver` does: ``mkdir`` wins or retries."""
    ids = [int(p.name) for p in root.iterdir() if p.is_dir() and p.name.isdigit()]
    candidate = max(ids, default=0) + 1
    for _ in range(1000):
        try:
            (root / str(candidate)).mkdir()
            return str(candidate)
        except FileExistsError:
            candidate += 1
    raise CliError(f"could not claim a free run id in {root} (1000 ids taken while trying)")


def _import_into_mongo(
    db: Any,
    header: dict[str, Any],
    staging: Path,
    archive: Path,
    archive_sha: str,
    public_key: Any,
) -> Imported:

    imported_from = provenance(header, archive, archive_sha)
    original, origin = str(header["original_id"]), _origin_text(header)
    content = imported_from["content_sha256"]
    run_id = None
    existing = db.runs.find_one({"meta.imported_from.content_sha256": content})
    if existing is not None:
        if existing["meta"]["imported_from"].get("archive_sha256"):
            return Imported("already imported", str(existing["_id"]), original, origin)
        run_id = existing["_id"]  # an import killed half-way: redo it under the same id
        delete_run(db, run_id)
    run_dir, entry = _assemble_run_dir(staging, header)
    check_staged_seal(run_dir, archive, public_key)
    sources = []
    for source in header["sources"]:
        stem, ext = os.path.splitext(_basename(source["name"]))
        stored = Path("_sources") / f"{stem}_{source['md5']}{ext}"
        (staging / stored).parent.mkdir(parents=True, exist_ok=True)
        os.replace(staging / source["member"], staging / stored)
        sources.append([source["name"], str(stored)])
    entry.setdefault("experiment", {})["sources"] = sources
    entry["resources"] = []  # set below: replay would record the md5 of a file path
    partial = {k: v for k, v in imported_from.items() if k != "archive_sha256"}
    entry["meta"] = {**(entry.get("meta") or {}), "imported_from": partial}
    entry["meta"].pop("pushed_from", None)
    write_atomic(run_dir / "run.json", json.dumps(entry, sort_keys=True, indent=2))
    record = load_run_dir(run_dir)
    new_id = replay(db, record, staging, run_id, {"archive": archive.name})
    fs = gridfs_of(db)
    resources = []
    for resource in header["resources"]:
        filename, md5 = resource["filename"], resource["md5"]
        if resource["member"] and fs.find_one({"filename": filename, "md5": md5}) is None:
            fs.put((staging / resource["member"]).read_bytes(), filename=filename, md5=md5)
        resources.append([filename, md5])
    fields = {
        **omniboard_fields(run_dir),
        **({"seal": read_seal_file(run_dir)} if (run_dir / SEAL_FILE).is_file() else {}),
        "resources": resources,
        "meta.imported_from.archive_sha256": archive_sha,  # written last: the import is whole
    }
    db.runs.update_one({"_id": new_id}, {"$unset": {"meta.pushed_from": ""}, "$set": fields})
    return Imported("imported", str(new_id), original, origin)
