"""Run written by Sacred's FileStorageObserver: ``runs/<id>/run.json`` and friends.

Layout read (what FileStorageObserver 0.8.7 writes)::

    runs/<id>/run.json      experiment, command, host, start/stop/heartbeat (ISO), status,
                            result, meta, resources, artifacts (names), fail_trace
    runs/<id>/config.json   the config          runs/<id>/info.json     the run info
    runs/<id>/metrics.json  {name: {steps, values, timestamps}}
    runs/<id>/cout.txt      captured output     runs/<id>/<artifact>    one file per artifact
    runs/_sources/, runs/_resources/            shared copies of sources and resources
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from sacred.dependencies import get_digest

from reproml.errors import RecordError
from reproml.records.atomic_write import write_atomic
from reproml.runs.record import RunRecord, parse_time, run_sort_key
from reproml.errors import CliError
from reproml.runs.safe_names import stored_file

REPAIR_HINT = "Repair or move away that run directory"


def shared_copy(filename: str | os.PathLike, store_dir: str | os.PathLike) -> Path:
    """Return the shared copy of `filename` in `store_dir` (``_sources``/``_resources``).

    Named ``STEM_MD5.EXT`` as Sacred's `FileStorageObserver` names it; an existing copy is reused
    only when its content still has the md5 its name says, else it is rewritten atomically
    (a copy truncated by a full disk is never reused as a run's source).
    """
    store_dir = Path(store_dir)
    store_dir.mkdir(parents=True, exist_ok=True)
    stem, ext = os.path.splitext(os.path.basename(filename))
    md5sum = get_digest(os.fspath(filename))
    store_path = store_dir / f"{stem}_{md5sum}{ext}"
    if not store_path.exists() or get_digest(str(store_path)) != md5sum:
        write_atomic(store_path, Path(filename).read_bytes())
    return store_path


class FileStore:
    """The runs under one FileStorageObserver base directory.

    Args:
      root: the observer's base directory (``runs/`` by default on the command line).
    """

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.description = str(self.root)

    def run_dirs(self) -> list[Path]:
        """Return every run directory (not ``_sources``/``_resources``), sorted by id.

        Raises:
          CliError: the store directory does not exist.
        """
        if not self.root.is_dir():
            raise CliError(
                f"run store {self.root} does not exist (pass --store DIR or --mongo URL)"
            )
        dirs = [p for p in self.root.iterdir() if p.is_dir() and not p.name.startswith(("_", "."))]
        return sorted(dirs, key=lambda p: run_sort_key(p.name))

    def list_runs(self) -> tuple[list[RunRecord], list[str]]:
        """Return the readable runs and one warning line per run directory that is not.

        Raises:
          CliError: the store does not exist or holds no runs at all.
        """
        runs, warnings = [], []
        dirs = self.run_dirs()
        for run_dir in dirs:
            try:
                runs.append(load_run_dir(run_dir))
            except RecordError as err:
                warnings.append(f"skipping corrupt run {run_dir.name}: {err}")
        if not dirs:
            raise CliError(f"run store {self.root} holds no runs")
        return runs, warnings

    def get_run(self, run_id: str) -> RunRecord:
        """Return run `run_id`.

        Raises:
          CliError: there is no such run (the message lists the ids that exist).
          RecordError: the run directory is corrupt (names the file).
        """
        run_dir = self.root / str(run_id)
        bad_name = not run_id or "/" in run_id or "\\" in run_id or run_id.startswith(("_", "."))
        if bad_name or not run_dir.is_dir():
            ids = [p.name for p in self.run_dirs()]
            raise CliError(f"no run {run_id!r} in {self.root} (runs there: {_id_summary(ids)})")
        return load_run_dir(run_dir)

    def read_artifact(self, run: RunRecord, name: str) -> bytes:
        """Return the bytes of artifact `name` of `run`.

        Raises:
          CliError: the run has no such artifact or its file is missing.
          UnsafeNameError: `name` is not a plain file name inside the run directory.
        """
        path = stored_file(Path(run.location), name, f"run {run.run_id}: artifact")
        if name not in run.artifacts or not path.is_file():
            raise CliError(f"run {run.run_id} has no artifact {name!r} (at {path})")
        return path.read_bytes()


def _id_summary(ids: list[str], limit: int = 10) -> str:
    if not ids:
        return "none"
    shown = ", ".join(ids[:limit])
    return shown + (f", ... ({len(ids)} in all)" if len(ids) > limit else "")


def read_json(path: Path, *, required: bool, default: Any = None) -> Any:
    """Return the JSON object in `path` (a dict), or `default` if optional and missing.

    Raises:
      RecordError: the file is missing (when required), unreadable, not JSON, or not an object.
    """
    if not path.is_file():
        if required:
            raise RecordError(path, "is missing", REPAIR_HINT)
        return default
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as err:
        raise RecordError(path, f"is not valid JSON ({err})", REPAIR_HINT) from None
    if not isinstance(data, dict):
        raise RecordError(
            path, f"holds a {type(data).__name__}, expected a JSON object", REPAIR_HINT
        )
    return data


def load_run_dir(run_dir: str | Path) -> RunRecord:
    """Read one FileStorageObserver run directory into a `RunRecord`.

    Raises:
      RecordError: ``run.json`` or ``config.json`` is missing or corrupt, or ``info.json`` /
        ``metrics.json`` is corrupt; the message names the file.
    """
    run_dir = Path(run_dir)
    entry = read_json(run_dir / "run.json", required=True)
    experiment = entry.get("experiment")
    if not isinstance(experiment, dict) or "name" not in experiment or "status" not in entry:
        raise RecordError(
            run_dir / "run.json", "has no experiment name or status, not a Sacred run", REPAIR_HINT
        )
    config = read_json(run_dir / "config.json", required=True)
    info = read_json(run_dir / "info.json", required=False, default={})
    metrics = read_json(run_dir / "metrics.json", required=False, default={})
    artifacts = entry.get("artifacts") or []
    return RunRecord(
        run_id=run_dir.name,
        experiment=str(experiment["name"]),
        status=str(entry["status"]),
        start_time=parse_time(entry.get("start_time")),
        stop_time=parse_time(entry.get("stop_time")),
        heartbeat=parse_time(entry.get("heartbeat")),
        result=entry.get("result"),
        config=config,
        info=info,
        metrics=metrics,
        artifacts=[str(a) for a in artifacts],
        location=str(run_dir),
        raw=entry,
    )
