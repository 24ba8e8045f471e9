"""Run seals: a sha256 digest over a finished run's record, written last, checked on every read.

A run that ends (COMPLETED, FAILED, INTERRUPTED, ...) in a store that recorded it whole is sealed
by that store's observer (`reproml.tracking.observers.GuardedObserver`): ``seal.json`` in the run
directory of the file store, the ``seal`` field of the run document in MongoDB. A seal holds::

    {"format": "reproml-seal", "version": 1,
     "parts":     {"config.json": sha256, "info.json": ..., "metrics.json": ...,
                   "run.json": ..., "cout.txt": ...},
     "artifacts": {name: {"sha256": ..., "size": bytes}},
     "digest":    sha256 of the canonical JSON of parts and artifacts,
     "signature": {"algorithm": "ed25519", "key_id": ..., "value": ...}   (optional)}

The parts are hashed in a canonical form that both stores hold alike (sorted compact JSON, times
cut to milliseconds), so a run pushed or imported into the other store keeps its seal:

* ``config.json``, ``metrics.json``: as recorded (metric timestamps normalised);
* ``info.json``: the run info without ``info["metrics"]`` (ids of one MongoDB database);
* ``run.json``: experiment (sources by name), command, host, start/stop time, status, result,
  fail trace, meta (without ``pushed_from`` / ``imported_from``, which a push or an import
  adds), artifact names and resource file names — not the heartbeat, nor where the store keeps
  its shared copies of sources and resources (those copies are bound by their md5);
* ``cout.txt``: the captured output;
* every artifact's bytes (the exported ``saved_model.zip`` included).

Not sealed, on purpose: tags and notes (``omniboard.json`` / the ``omniboard`` field), which
``reproml tag`` and Omniboard edit at any time. They are annotations about a run, never its result.
Nor the model directory (checkpoints, TensorBoard events; ``runs/<id>/model`` by default): the
exported model is sealed as the ``saved_model.zip`` artifact, when it is small enough to be one
(`reproml.tracking.recording.MAX_EXPORT_ZIP_BYTES`).

A checksum stops accidental edits and partial writes, not a forger who re-hashes: that takes a
signature (`reproml.runs.signing`). See docs/guarantees.md for the threat model.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from gridfs.errors import GridFSError

from reproml.errors import SealError
from reproml.errors import ReproMLError
from reproml.records.atomic_write import write_atomic
from reproml.runs.file_store import load_run_dir
from reproml.runs.mongo import gridfs_of
from reproml.runs.mongo_store import MongoStore
from reproml.runs.record import RunRecord, parse_time
from reproml.runs.signing import sign, signature_problem

SEAL_FILE = "seal.json"
FORMAT = "reproml-seal"
VERSION = 1
# The parts of a record, named as in the file store's layout (and in an archive's run/).
PART_NAMES = ("config.json", "info.json", "metrics.json", "run.json", "cout.txt")
# Files of a run directory that are not sealed content: the seal and the annotations.
UNSEALED_FILES = (SEAL_FILE, "omniboard.json")
# Meta entries added by a push or an import: where a copy came from, not what the run did.
PROVENANCE_META = ("pushed_from", "imported_from")
CHUNK = 1 << 20


@dataclasses.dataclass(frozen=True)
class SealCheck:
    """The outcome of checking a run against its seal.

    Attributes:
      state: ``sealed`` (matches), ``tampered`` (differs), ``unsealed`` (no seal: recorded before
        sealing, or its record is incomplete), ``running`` (not sealed yet).
      problems: one line per changed, missing or extra part or artifact (``metrics.json
        changed``, ``artifact saved_model.zip missing``), and a signature refused by a key.
      digest: the seal's digest (None when unsealed).
      key_id: the key that signed it (None when unsigned).
    """

    state: str
    problems: tuple[str, ...] = ()
    digest: str | None = None
    key_id: str | None = None

    @property
    def tampered(self) -> bool:
        """Tell whether the record no longer matches its seal."""
        return self.state == "tampered"

    def summary(self) -> str:
        """Return one line for listings: ``TAMPERED: metrics.json changed, ...`` or the state."""
        if self.tampered:
            return "TAMPERED: " + "; ".join(self.problems)
        return self.state


def _default(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return _time(value)
    if type(value).__name__ == "ObjectId":
        return str(value)
    raise TypeError(f"cannot seal a {type(value).__name__}")


def canonical_json(obj: Any) -> bytes:
    """Return `obj` as sorted, compact UTF-8 JSON (times as ISO strings to the millisecond)."""
    return json.dumps(
        obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_default
    ).encode("utf-8")


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _time(value: Any) -> str | None:
    parsed = parse_time(value)
    return parsed.isoformat() if parsed is not None else None


def _names(items: Any) -> list[str]:
    """Names out of Sacred's ``[name, where]`` pairs or ``{"name": ...}`` entries."""
    names = []
    for item in items or []:
        if isinstance(item, Mapping):
            names.append(str(item.get("name")))
        elif isinstance(item, (list, tuple)) and item:
            names.append(str(item[0]))
        else:
            names.append(str(item))
    return names


def run_entry_view(raw: Mapping[str, Any]) -> dict[str, Any]:
    """Return the sealed view of ``run.json`` / the run document (see the module docstring)."""
    experiment = dict(raw.get("experiment") or {})
    experiment["sources"] = sorted(_names(experiment.get("sources")))
    meta = {k: v for k, v in (raw.get("meta") or {}).items() if k not in PROVENANCE_META}
    return {
        "experiment": experiment,
        "command": raw.get("command"),
        "host": raw.get("host"),
        "start_time": _time(raw.get("start_time")),
        "stop_time": _time(raw.get("stop_time")),
        "status": raw.get("status"),
        "result": raw.get("result"),
        "fail_trace": raw.get("fail_trace"),
        "meta": meta,
        "artifacts": _names(raw.get("artifacts")),
        "resources": _names(raw.get("resources")),
    }


def part_digests(run: RunRecord, captured_out: str) -> dict[str, str]:
    """Return ``{part name: sha256}`` of the record's canonical parts."""
    metrics = {
        name: {
            "steps": list(series.get("steps") or []),
            "values": list(series.get("values") or []),
            "timestamps": [_time(t) for t in series.get("timestamps") or []],
        }
        for name, series in run.metrics.items()
    }
    info = {k: v for k, v in run.info.items() if k != "metrics"}
    return {
        "config.json": _sha256(canonical_json(run.config)),
        "info.json": _sha256(canonical_json(info)),
        "metrics.json": _sha256(canonical_json(metrics)),
        "run.json": _sha256(canonical_json(run_entry_view(run.raw))),
        "cout.txt": _sha256(captured_out.encode("utf-8", "surrogateescape")),
    }


def content_digest(parts: Mapping[str, str], artifacts: Mapping[str, Mapping[str, Any]]) -> str:
    """Return the digest over the part digests and the artifacts' sha256 and sizes."""
    return _sha256(canonical_json({"parts": dict(parts), "artifacts": dict(artifacts)}))


def make_seal(
    parts: Mapping[str, str],
    artifacts: Mapping[str, Mapping[str, Any]],
    signing_key: Any = None,
) -> dict[str, Any]:
    """Return a seal of `parts` and `artifacts`, signed when `signing_key` is given.

    Args:
      parts: ``{part name: sha256}`` (`part_digests`).
      artifacts: ``{name: {"sha256": ..., "size": ...}}``.
      signing_key: an Ed25519 private key (`reproml.runs.signing`), or None.
    """
    seal: dict[str, Any] = {
        "format": FORMAT,
        "version": VERSION,
        "parts": dict(parts),
        "artifacts": {name: dict(value) for name, value in artifacts.items()},
        "digest": content_digest(parts, artifacts),
    }
    if signing_key is not None:
        seal["signature"] = sign(signing_key, seal["digest"])
    return seal


def file_digest(path: Path) -> dict[str, Any]:
    """Return ``{"sha256", "size"}`` of a file, read in chunks."""
    digest, size = hashlib.sha256(), 0
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(CHUNK), b""):
            digest.update(chunk)
            size += len(chunk)
    return {"sha256": digest.hexdigest(), "size": size}


def check_seal_format(seal: Any, where: str) -> dict[str, Any]:
    """Return `seal` if it is a seal this reproml reads.

    Raises:
      SealError: it is not a JSON object of format ``reproml-seal`` with parts, artifacts and a
        digest, or its version is newer.
    """
    if (
        not isinstance(seal, dict)
        or seal.get("format") != FORMAT
        or not isinstance(seal.get("parts"), dict)
        or not isinstance(seal.get("artifacts"), dict)
        or not isinstance(seal.get("digest"), str)
    ):
        raise SealError(f"{where}: not a {FORMAT} (expected parts, artifacts and a digest)")
    if not isinstance(seal.get("version"), int) or seal["version"] > VERSION:
        raise SealError(
            f"{where}: seal version {seal.get('version')!r}; this reproml reads up to {VERSION}"
        )
    return seal


def compare(
    seal: Mapping[str, Any],
    parts: Mapping[str, str],
    artifacts: Mapping[str, Mapping[str, Any] | None],
    extra: list[str] = (),
    public_key: Any = None,
) -> SealCheck:
    """Compare a record's current digests with its `seal`.

    Args:
      seal: the stored seal (`check_seal_format` passed).
      parts: the current part digests.
      artifacts: the current artifacts: ``{name: {"sha256"?, "size"}}`` (no sha256: compare
        sizes only, the cheap check of listings), None for an artifact that is missing.
      extra: names of files in the record that are neither sealed nor annotations.
      public_key: a trusted Ed25519 public key: the seal must be signed by it.
    """
    problems = []
    for name in PART_NAMES:
        if parts.get(name) != seal["parts"].get(name):
            problems.append(f"{name} changed")
    sealed_artifacts = seal["artifacts"]
    for name in sorted(set(sealed_artifacts) | set(artifacts)):
        now, then = artifacts.get(name), sealed_artifacts.get(name)
        if then is None:
            problems.append(f"artifact {name} is not in the seal")
        elif now is None:
            problems.append(f"artifact {name} missing")
        elif now.get("size") != then.get("size") or (
            "sha256" in now and now["sha256"] != then.get("sha256")
        ):
            problems.append(f"artifact {name} changed")
    problems += [f"extra file {name}" for name in extra]
    if content_digest(seal["parts"], sealed_artifacts) != seal["digest"]:
        problems.append(f"{SEAL_FILE} changed (its digest is not that of its content)")
    signature = seal.get("signature") if isinstance(seal.get("signature"), dict) else {}
    if public_key is not None:
        refused = signature_problem(dict(seal), public_key)
        if refused:
            problems.append(refused)
    return SealCheck(
        "tampered" if problems else "sealed",
        tuple(problems),
        str(seal["digest"]),
        signature.get("key_id"),
    )


# ------------------------------------------------------------------------------- file store


def read_seal_file(run_dir: Path) -> dict[str, Any] | None:
    """Return the ``seal.json`` of a run directory, or None when it has none.

    Raises:
      SealError: the file is not JSON or not a seal.
    """
    path = Path(run_dir) / SEAL_FILE
    if not path.is_file():
        return None
    try:
        seal = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as err:
        raise SealError(f"{path}: not valid JSON ({err})") from None
    return check_seal_format(seal, str(path))


def dir_artifacts(run: RunRecord, *, full: bool) -> dict[str, dict[str, Any] | None]:
    """Return the current ``{name: {"sha256"?, "size"}}`` of a file-store run's artifacts."""
    found: dict[str, dict[str, Any] | None] = {}
    for name in run.artifacts:
        path = Path(run.location) / name
        if not path.is_file():
            found[name] = None
        elif full:
            found[name] = file_digest(path)
        else:
            found[name] = {"size": path.stat().st_size}
    return found


def dir_parts(run: RunRecord) -> dict[str, str]:
    """Return the part digests of a file-store run (its ``cout.txt`` read from disk)."""
    cout = Path(run.location) / "cout.txt"
    text = cout.read_bytes().decode("utf-8", "surrogateescape") if cout.is_file() else ""
    return part_digests(run, text)


def dir_extra_files(run: RunRecord) -> list[str]:
    """Return the files of a run directory that are neither parts, artifacts nor unsealed files.

    Directories are not sealed content: the run's own model directory (``runs/<id>/model`` by
    default: checkpoints, TensorBoard events) lives there; the exported model is sealed as the
    ``saved_model.zip`` artifact. A store copied elsewhere keeps its runs' seals.
    """
    known = set(PART_NAMES) | set(UNSEALED_FILES) | set(run.artifacts)
    return sorted(
        p.name
        for p in Path(run.location).iterdir()
        if p.name not in known and not p.is_dir() and not _annotation_temp(p.name)
    )


def _annotation_temp(name: str) -> bool:
    """The temp file `reproml.runs.annotations` renames onto ``omniboard.json`` (a tag write)."""
    return name.startswith(".omniboard.json.") and name.endswith(".tmp")


def check_run_dir(run_dir: Path, public_key: Any = None) -> SealCheck:
    """Check the run directory `run_dir` (a store's, or an archive's staged one) fully.

    Raises:
      RecordError: its run.json or config.json is missing or corrupt (names the file).
    """
    return check_run(None, load_run_dir(run_dir), full=True, public_key=public_key)


def seal_run_dir(run_dir: Path, signing_key: Any = None) -> dict[str, Any]:
    """Seal the file-store run in `run_dir`: write ``seal.json`` atomically; return the seal."""
    run = load_run_dir(run_dir)
    artifacts = dir_artifacts(run, full=True)
    missing = [name for name, value in artifacts.items() if value is None]
    if missing:
        raise SealError(f"{run_dir}: artifact {missing[0]} is listed but missing; not sealed")
    seal = make_seal(dir_parts(run), artifacts, signing_key)
    write_atomic(Path(run_dir) / SEAL_FILE, json.dumps(seal, sort_keys=True, indent=2) + "\n")
    return seal


# ------------------------------------------------------------------------------- MongoDB


def mongo_artifacts(db: Any, doc: Mapping[str, Any], *, full: bool) -> dict[str, Any]:
    """Return the current ``{name: {"sha256"?, "size"}}`` of a MongoDB run's artifacts."""
    entries = [a for a in doc.get("artifacts") or [] if isinstance(a, Mapping)]
    found: dict[str, dict[str, Any] | None] = {}
    if not full:
        ids = [a.get("file_id") for a in entries]
        lengths = {f["_id"]: f["length"] for f in db.fs.files.find({"_id": {"$in": ids}})}
        for artifact in entries:
            length = lengths.get(artifact.get("file_id"))
            found[str(artifact["name"])] = None if length is None else {"size": length}
        return found
    fs = gridfs_of(db)
    for artifact in entries:
        if not fs.exists(artifact.get("file_id")):
            found[str(artifact["name"])] = None
            continue
        digest, size = hashlib.sha256(), 0
        try:
            stream = fs.get(artifact["file_id"])
            for chunk in iter(lambda stream=stream: stream.read(CHUNK), b""):
                digest.update(chunk)
                size += len(chunk)
        except GridFSError:  # chunks that no longer add up to the file: changed
            found[str(artifact["name"])] = {"sha256": "unreadable", "size": -1}
            continue
        found[str(artifact["name"])] = {"sha256": digest.hexdigest(), "size": size}
    return found


def mongo_parts(run: RunRecord) -> dict[str, str]:
    """Return the part digests of a MongoDB run (its output is the document's captured_out)."""
    return part_digests(run, str(run.raw.get("captured_out") or ""))


def seal_mongo_run(db: Any, run_id: Any, signing_key: Any = None) -> dict[str, Any]:
    """Seal the MongoDB run `run_id`: set its document's ``seal`` field; return the seal."""
    doc = db.runs.find_one({"_id": run_id})
    if doc is None:
        raise SealError(f"MongoDB {db.name} runs/{run_id}: no such run document; not sealed")
    run = MongoStore(db, db.name).record_of(doc)
    artifacts = mongo_artifacts(db, doc, full=True)
    missing = [name for name, value in artifacts.items() if value is None]
    if missing:
        raise SealError(f"MongoDB runs/{run_id}: artifact {missing[0]} is missing; not sealed")
    seal = make_seal(mongo_parts(run), artifacts, signing_key)
    db.runs.update_one({"_id": run_id}, {"$set": {"seal": seal}})
    return seal


# ------------------------------------------------------------------------------- either store


def check_run(store: Any, run: RunRecord, *, full: bool, public_key: Any = None) -> SealCheck:
    """Check `run` of `store` against its seal.

    Args:
      store: the run's store (a `FileStore` or a `MongoStore`; None: a file-store run).
      run: the run.
      full: re-hash every artifact (``verify``, ``import``); else compare artifact sizes only
        (listings: the parts are always re-hashed, they are small).
      public_key: a trusted public key; the seal must be signed by it.

    Returns:
      A `SealCheck`; a RUNNING run and a run without a seal are ``running`` / ``unsealed``.
    """
    mongo = store is not None and hasattr(store, "db")
    try:
        seal = (
            check_seal_format(run.raw.get("seal"), f"run {run.run_id} seal")
            if mongo and run.raw.get("seal") is not None
            else (None if mongo else read_seal_file(Path(run.location)))
        )
    except SealError as err:
        return SealCheck("tampered", (str(err),))
    if seal is None:
        return SealCheck("running" if run.status == "RUNNING" else "unsealed")
    if mongo:
        parts, artifacts, extra = (
            mongo_parts(run),
            mongo_artifacts(store.db, run.raw, full=full),
            [],
        )
    else:
        parts, artifacts = dir_parts(run), dir_artifacts(run, full=full)
        extra = dir_extra_files(run)
    return compare(seal, parts, artifacts, extra, public_key)
