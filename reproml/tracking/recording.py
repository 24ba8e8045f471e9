"""What a run records about its code, environment, data and outputs.

* `record_code`: the checkout, commit, ``git diff HEAD`` (artifact ``code.diff``) and the sha256
  of every source file: ``info["code"]`` (see `reproml.runs.code_state`).
* `record_late_imports`: when the run ends, the modules of the project imported during it (a
  network chosen by name, an import inside a function): their sha256 in ``info["code"]``, and
  the content of those in no commit as artifacts ``source-<quoted path>``.
* `record_environment`: ``pip freeze`` as the artifact ``pip-freeze.txt``.
* `record_dataset`: ``info["dataset"] = {"name", "record_dir", "fingerprint", "source", "splits",
  "examples_per_class", "classes_missing"}`` and the ``manifest.json`` as a Sacred resource
  (stored once per content in MongoDB's GridFS; the source's per-file hashes are only there).
* `record_export`: ``info["export_dir"]`` and the SavedModel zipped as one artifact (small
  models only, see `MAX_EXPORT_ZIP_BYTES`).

Every text artifact is scrubbed of credentials before it is written.
"""

from __future__ import annotations

import hashlib
import logging
import os
import zipfile
from pathlib import Path
from typing import Any

from reproml.records.manifest import MANIFEST_NAME, Manifest, load_manifest
from reproml.records.source_fingerprint import FILE_HASHES_KEY
from reproml.runs.artifact_files import artifact_dir
from reproml.runs.code_state import (
    CodeState,
    current_code_state,
    file_hashes,
    imported_files,
    untracked_files,
)
from reproml.runs.environment import pip_freeze
from reproml.runs.record import (
    DIFF_ARTIFACT,
    EXPORT_ARTIFACT,
    FREEZE_ARTIFACT,
    source_artifact_name,
)
from reproml.runs.scrub import scrub, scrub_text

MAX_EXPORT_ZIP_BYTES = 20 * 1024 * 1024
_log = logging.getLogger("reproml.tracking")


def add_text_artifact(run: Any, name: str, text: str) -> Path:
    """Scrub `text`, writes it to a file named `name` and adds it to `run` as an artifact."""
    path = artifact_dir(run) / name
    path.write_text(scrub_text(text), encoding="utf-8")
    run.add_artifact(str(path), name=name)
    return path


def _scrubbed_bytes(data: bytes) -> bytes:
    """Mask credentials in bytes that may not be UTF-8 (every other byte is kept as it is)."""
    return scrub_text(data.decode("utf-8", "surrogateescape")).encode("utf-8", "surrogateescape")


def record_code(run: Any, repo_dir: str | os.PathLike) -> dict[str, Any]:
    """Record the code the run runs with (see `reproml.runs.code_state`).

    ``info["code"] = {"repo", "commit", "dirty", "diff_artifact", "files", "untracked"}``:
    the checkout, its commit, ``git diff HEAD`` as the artifact ``code.diff`` (bytes as they are,
    credentials masked; only when not empty), the sha256 of every source file of the run, and
    which of those git does not track. ``dirty`` is true when the diff is not empty or a source
    is untracked.

    Returns:
      ``info["code"]``.
    """
    state = current_code_state(repo_dir)
    base = Path(run.experiment_info.get("base_dir") or repo_dir)
    sources = [base / name for name, _ in run.experiment_info.get("sources", [])]
    files = file_hashes(state.repo, sources)
    untracked = untracked_files(state, files)
    info = {
        "repo": str(state.repo),
        "commit": state.commit,
        "dirty": None if state.commit is None else bool(state.diff or untracked),
        "diff_artifact": None,
        "files": files,
        "untracked": untracked,
    }
    if state.diff:
        path = artifact_dir(run) / DIFF_ARTIFACT
        path.write_bytes(_scrubbed_bytes(state.diff))
        run.add_artifact(str(path), name=DIFF_ARTIFACT)
        info["diff_artifact"] = DIFF_ARTIFACT
    run.info["code"] = info
    return info


def record_late_imports(run: Any) -> list[str]:
    """Add the project's modules imported since `record_code` to ``info["code"]``.

    Sacred lists a run's sources when the run is created; a module imported later (the network
    module `reproml.models.networks.get_network` loads by name, an import inside a function) is
    not among them. Called when the run ends, this adds every module of the checkout
    (``info["code"]["repo"]``, `reproml.runs.code_state.imported_files`) that is not yet in
    ``files``: its sha256 goes to ``files``, it goes to ``untracked`` when git does not track
    it, and ``dirty`` is computed again. A file in no commit (untracked, or every file outside
    a git checkout) is in no diff either, so its content is kept as the artifact
    `reproml.runs.record.source_artifact_name` (credentials masked, as in every artifact) and
    its recorded sha256 is that of the content kept. Files already recorded are not read again.

    Does nothing when the run recorded no code (unobserved, not the chief, or
    ``record_code_state=False``).

    Returns:
      The paths added to ``files`` (relative to the checkout), sorted.
    """
    code = run.info.get("code")
    if not isinstance(code, dict) or not code.get("repo"):
        return []
    repo = Path(code["repo"]).resolve()
    recorded = dict(code.get("files") or {})
    new = [p for p in imported_files(repo) if p.relative_to(repo).as_posix() not in recorded]
    added = file_hashes(repo, new)
    if not added:
        return []
    state = CodeState(code.get("commit"), b"", repo)
    late_untracked = untracked_files(state, added)
    for name in late_untracked if state.commit is not None else sorted(added):
        data = (repo / name).read_bytes()
        added[name] = hashlib.sha256(data).hexdigest()  # the content kept, byte for byte
        artifact = source_artifact_name(name)
        path = artifact_dir(run) / artifact
        path.write_bytes(_scrubbed_bytes(data))
        run.add_artifact(str(path), name=artifact)
    untracked = sorted({*(code.get("untracked") or []), *late_untracked})
    code.update(
        files=dict(sorted({**recorded, **added}.items())),
        untracked=untracked,
        dirty=None if state.commit is None else bool(code.get("diff_artifact") or untracked),
    )
    run.info["code"] = code
    return sorted(added)


def record_environment(run: Any) -> str:
    """Add ``pip freeze`` of the running interpreter as the artifact ``pip-freeze.txt``.

    Raises:
      RuntimeError: pip failed (`reproml.runs.environment.pip_freeze`).
    """
    frozen = pip_freeze()
    add_text_artifact(run, FREEZE_ARTIFACT, frozen)
    return frozen


def record_dataset(run: Any, record_dir: str | os.PathLike, name: str) -> dict[str, Any]:
    """Record the dataset's manifest as a resource and its fingerprint in ``info["dataset"]``.

    The recorded name is the manifest source's own name when it has one (e.g. "sklearn-digits"
    when MNIST fell back to the bundled digits), so a leaderboard never shows a fallback as the
    data set the experiment asked for; `name` is used otherwise.

    Raises:
      RecordError: `record_dir` has no valid manifest.
    """
    manifest = load_manifest(record_dir)
    path = Path(record_dir) / MANIFEST_NAME
    run.add_resource(str(path.resolve()))
    source = {k: v for k, v in manifest.source.items() if k != FILE_HASHES_KEY}
    per_class = examples_per_class(manifest)
    info = {
        "name": manifest.source.get("name") or name,
        "record_dir": str(Path(record_dir).resolve()),
        "fingerprint": manifest.fingerprint or manifest.compute_fingerprint(),
        "source": scrub(source),
        "splits": {s: split.num_examples for s, split in manifest.splits.items()},
    }
    if per_class:
        info["examples_per_class"] = per_class
        missing = {
            split: [name for name, count in counts.items() if count == 0]
            for split, counts in per_class.items()
        }
        info["classes_missing"] = {split: names for split, names in missing.items() if names}
    per_box_class = class_counts(manifest, "boxes")
    if per_box_class:
        info["boxes_per_class"] = per_box_class
    run.info["dataset"] = info
    return info


def examples_per_class(manifest: Manifest) -> dict[str, dict[str, int]]:
    """Return ``{split: {class name: examples}}`` of the manifest's class labels and label sets.

    Read from the label histograms `write_records` counts (every class listed, zeros
    included): a class label's examples per class, and a label set's examples holding each
    class. Empty when the records have neither; with several such features, the class names
    are prefixed by their feature (``"label/cat"``). Box labels are `class_counts`' "boxes".
    """
    return class_counts(manifest, "examples")


def class_counts(manifest: Manifest, unit: str) -> dict[str, dict[str, int]]:
    """Return ``{split: {class name: count}}`` of the histograms counting `unit`.

    `unit` is "examples" or "boxes" (`Manifest.class_count_unit`); names are prefixed by
    their feature (``"boxes/label/cat"``) when several features count the same unit.
    """
    per_class: dict[str, dict[str, int]] = {}
    for split, info in manifest.splits.items():
        histograms = {
            key: counts
            for key, counts in info.label_histogram.items()
            if manifest.class_count_unit(key) == unit
        }
        if len(histograms) == 1:
            per_class[split] = dict(next(iter(histograms.values())))
        elif histograms:
            per_class[split] = {
                f"{key}/{name}": count
                for key, counts in histograms.items()
                for name, count in counts.items()
            }
    return per_class


def record_export(run: Any, export_dir: str | os.PathLike) -> Path | None:
    """Record ``info["export_dir"]`` and adds the SavedModel as ``saved_model.zip`` if small.

    Returns:
      The zip path, or None when the SavedModel was larger than `MAX_EXPORT_ZIP_BYTES`
      (then only the path is recorded).
    """
    export_dir = Path(export_dir).resolve()
    run.info["export_dir"] = str(export_dir)
    size = sum(p.stat().st_size for p in export_dir.rglob("*") if p.is_file())
    if size > MAX_EXPORT_ZIP_BYTES:
        _log.info("SavedModel %s is %d bytes: recording its path only", export_dir, size)
        return None
    zip_path = artifact_dir(run) / EXPORT_ARTIFACT
    with zipfile.ZipFile(zip_path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for file in sorted(export_dir.rglob("*")):
            if file.is_file():
                archive.write(file, file.relative_to(export_dir.parent))
    run.add_artifact(str(zip_path), name=EXPORT_ARTIFACT)
    return zip_path
