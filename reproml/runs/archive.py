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
or altered archive is refused, naming the member), then adds the run under a NEW id:

* file store: the run directory is assembled in a hidden staging directory of the store, the
  next free id is claimed with ``mkdir`` (as Sacred's `FileStorageObserver` claims it, so a live
  run never gets the same id) and the assembled directory is renamed onto it: the run appears
  whole or not at all. Sources and resources go to ``_sources/`` / ``_resources/`` through
  `AtomicFileStorageObserver.find_or_save` (shared copies, reused when the content matches);
* MongoDB: the assembled run is replayed through Sacred's `MongoObserver`
  (`reproml.runs.push.replay`), which claims the id; the provenance's ``archive_sha256`` is
  written last, so an import killed half-way is deleted and redone by the next import.

Either way ``meta.imported_from`` records where it came from (origin store, original id, the
archive's name and sha256, and ``content_sha256``, the digest of its members). Importing an
archive whose content is already in the store adds nothing: "already imported as run N".
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import fcntl
import gzip
import hashlib
import io
import json
import os
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
from reproml.runs.file_store import read_json
from reproml.runs.record import CliError, RunRecord, run_sort_key
from reproml.runs.seal import SEAL_FILE, check_run, check_run_dir, read_seal_file

FORMAT = "reproml-run-archive"
VERSION = 1
HEADER = "reproml-archive.json"
RUN_FILES = (
    *("run.json", "config.json", "info.json", "metrics.json", "cout.txt", ANNOTATIONS_FILE),
    SEAL_FILE,
)
SUFFIXES = {".tar.gz": "tar.gz", ".tgz": "tar.gz", ".zip": "zip"}
CHUNK = 1 << 20
# What a damaged compressed stream raises while a member is read.
_DAMAGE = (tarfile.TarError, zipfile.BadZipFile, zlib.error, EOFError, gzip.BadGzipFile)


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
    """
    if run.status == "RUNNING" and not run.probably_dead():
        raise CliError(f"run {run.run_id} is still running: export it once it has ended")
    sealed = check_run(store, run, full=True)
    if sealed.tampered:
        raise CliError(
            f"run {run.run_id} not exported, it does not match its seal: {sealed.summary()}"
        )
    if is_mongo_run(run):
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
    for name in run.artifacts:
        path = run_dir / name
        if not path.is_file():
            raise CliError(f"run {run.run_id}: artifact {name!r} is listed but {path} is missing")
        artifacts.append((name, path.read_bytes()))
    sources = []
    for name, stored in (run.raw.get("experiment") or {}).get("sources") or []:
        path = root / stored
        if not path.is_file():
            raise CliError(f"run {run.run_id}: source {name!r} is missing from {path}")
        sources.append((name, path.read_bytes()))
    resources = []
    for filename, stored in run.raw.get("resources") or []:
        candidates = [Path(stored), root / "_resources" / _basename(stored)] if stored else []
        path = next((p for p in candidates if p.is_file()), None)
        if path is None:
            raise CliError(f"run {run.run_id}: resource {filename!r} is missing from {stored}")
        data = path.read_bytes()
        resources.append((filename, _md5(data), data))
    return None, files, artifacts, sources, resources


def _collect_mongo(store: Any, run: RunRecord) -> tuple:
    """A MongoDB run: its document, metrics and GridFS files in the file store's layout."""
    from reproml.runs.mongo import gridfs_of

    fs = gridfs_of(store.db)
    doc = run.raw
    skip = ("_id", "config", "info", "captured_out", "omniboard", "format", "seal")
    entry = {k: v for k, v in doc.items() if k not in skip}
    experiment = dict(doc.get("experiment") or {})
    sources, stored_sources = [], []
    for name, file_id in experiment.get("sources") or []:
        data = fs.get(file_id).read()
        sources.append((name, data))
        stem, ext = os.path.splitext(_basename(name))
        stored_sources.append([name, f"_sources/{stem}_{_md5(data)}{ext}"])
    experiment["sources"] = stored_sources
    entry["experiment"] = experiment
    resources, stored_resources = [], []
    for filename, md5 in doc.get("resources") or []:
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


@contextlib.contextmanager
def _entries(path: Path) -> Iterator[Iterator[tuple[str, Any]]]:
    """Yield an iterator of (member name, opener or None for a non-file) over the archive."""
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:

            def zip_entries() -> Iterator[tuple[str, Any]]:
                for info in archive.infolist():
                    is_file = not info.is_dir()
                    yield info.filename, (lambda i=info: archive.open(i)) if is_file else None

            yield zip_entries()
        return
    try:
        tar = tarfile.open(path, "r:*")
    except (tarfile.TarError, OSError, EOFError, zlib.error) as err:
        raise CliError(
            f"{path} is not a reproml run archive (neither .tar.gz nor .zip): {err}"
        ) from None
    with tar:

        def tar_entries() -> Iterator[tuple[str, Any]]:
            for info in tar:
                yield info.name, (lambda i=info: tar.extractfile(i)) if info.isfile() else None

        yield tar_entries()


def _checked_member(name: str) -> PurePosixPath:
    """Refuse a member name that could land outside the staging directory."""
    member = PurePosixPath(name)
    if member.is_absolute() or ".." in member.parts or not member.parts or "\\" in name:
        raise CliError(f"archive member {name!r} is not a plain relative path; refused")
    return member


def read_archive(path: str | os.PathLike, staging: Path) -> dict[str, Any]:
    """Check the archive `path` member by member into `staging`; return its header.

    Every member is streamed to ``staging/<member>`` while its sha256 is computed, and compared
    with the header's; nothing outside `staging` is written.

    Raises:
      CliError: not an archive, no or bad header, a newer format, a member damaged, altered,
        missing, duplicated, unexpected or not a plain file (the message names it).
    """
    path = Path(path)
    if not path.is_file():
        raise CliError(f"{path} does not exist")
    header: dict[str, Any] | None = None
    seen: dict[str, str] = {}
    try:
        with _entries(path) as entries:
            for name, opener in entries:
                if opener is None:
                    if name.rstrip("/") in ("run", "artifacts", "sources", "resources"):
                        continue
                    raise CliError(f"{path}: member {name!r} is not a plain file; refused")
                member = _checked_member(name)
                if name in seen or (name == HEADER and header is not None):
                    raise CliError(f"{path}: member {name!r} appears twice; refused")
                if name == HEADER:
                    header = _read_header(path, opener)
                    continue
                target = staging / member
                target.parent.mkdir(parents=True, exist_ok=True)
                digest = hashlib.sha256()
                try:
                    with opener() as src, open(target, "wb") as dst:
                        for chunk in iter(lambda: src.read(CHUNK), b""):
                            digest.update(chunk)
                            dst.write(chunk)
                except _DAMAGE as err:
                    raise CliError(f"{path}: member {name} is damaged ({err}); refused") from None
                seen[name] = digest.hexdigest()
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
    return header


def _read_header(path: Path, opener: Any) -> dict[str, Any]:
    try:
        with opener() as f:
            header = json.loads(f.read().decode("utf-8"))
    except _DAMAGE as err:
        raise CliError(f"{path}: member {HEADER} is damaged ({err}); refused") from None
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
    return header


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

    Raises:
      CliError: run.json or config.json is missing, or an artifact name is not a plain name.
    """
    run_dir = staging / "run"
    for required in ("run.json", "config.json"):
        if not (run_dir / required).is_file():
            raise CliError(f"archive has no run/{required}: not a run")
    for artifact in header["artifacts"]:
        name = str(artifact["name"])
        if "/" in name or "\\" in name or name in RUN_FILES or name.startswith("."):
            raise CliError(f"archive artifact {name!r} is not a plain file name; refused")
        os.replace(staging / artifact["member"], run_dir / name)
    entry = read_json(run_dir / "run.json", required=True)
    return run_dir, entry


def import_archive(path: str | os.PathLike, store: Any, public_key: Any = None) -> Imported:
    """Import the archive `path` into `store` (a `FileStore` or a `MongoStore`).

    Args:
      path: the archive.
      store: where to add the run.
      public_key: a trusted Ed25519 public key: the run's seal must be signed by it.

    Raises:
      CliError: the archive is refused by `read_archive`, is not a run, or its run does not
        match its seal (`check_staged_seal`).
    """
    path = Path(path)
    archive_sha = _file_sha256(path) if path.is_file() else ""
    if hasattr(store, "db"):
        with tempfile.TemporaryDirectory(prefix="reproml-import-") as tmp:
            header = read_archive(path, Path(tmp))
            return _import_into_mongo(store.db, header, Path(tmp), path, archive_sha, public_key)
    root = Path(store.root)
    root.mkdir(parents=True, exist_ok=True)
    staging = root / f".import-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    staging.mkdir()
    try:
        header = read_archive(path, staging)
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
    from reproml.tracking.file_store import AtomicFileStorageObserver

    imported_from = provenance(header, archive, archive_sha)
    original, origin = str(header["original_id"]), _origin_text(header)
    existing = _already_in_dir(root, imported_from["content_sha256"])
    if existing is not None:
        return Imported("already imported", existing, original, origin)
    run_dir, entry = _assemble_run_dir(staging, header)
    check_staged_seal(run_dir, archive, public_key)
    observer = AtomicFileStorageObserver(root)
    sources = []
    for source in header["sources"]:
        stored = observer.find_or_save(str(staging / source["member"]), root / "_sources")
        sources.append([source["name"], os.path.relpath(stored, root)])
    resources = []
    for resource in header["resources"]:
        stored = None
        if resource["member"]:
            found = observer.find_or_save(str(staging / resource["member"]), root / "_resources")
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
    from reproml.runs.annotations import omniboard_fields
    from reproml.runs.file_store import load_run_dir
    from reproml.runs.mongo import gridfs_of
    from reproml.runs.push import delete_run, replay

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
