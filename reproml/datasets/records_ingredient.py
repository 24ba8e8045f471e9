"""Records owned by a Sacred dataset ingredient: written once per config, never reused for another.

The serialization config (the ingredient entries that decide what the records hold) is stored in
the manifest at write time, as ``source["serialization"]``. A later run compares it with its own::

    data_dir has no manifest            -> serialize (write_records), store the entries
    manifest, the same entries          -> reuse the records
    manifest, other entries             -> SerializationMismatchError naming whose records they
                                           are (dataset, source, fingerprint), every entry that
                                           differs (both values) and the two ways out
    manifest, same entries, but the     -> SourceChangedError naming the files added, removed or
    source changed since                   changed (`reproml.records.source_fingerprint`)
    ... and overwrite_records=True      -> serialize again (write_records replaces atomically);
                                           the records replaced are logged (one warning line
                                           naming their dataset, source and fingerprint) and
                                           recorded as ``info.dataset.replaced``

The comparison runs in the ingredient's config hook (`add_config_check`, which checks the
entries first; `refuse_other_records`: refused before anything runs or is recorded) and again in
`ensure_records` (records written meanwhile). The validators name the entry by its full path
(``dataset.data_dir``), the one written after ``with``. `reproml.datasets.mnist_ingredient` and
`reproml.datasets.image_folder_ingredient` are ingredients built from these parts.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from sacred import Ingredient

from reproml.errors import ConfigError, RecordError, SerializationMismatchError, SourceChangedError
from reproml.records.manifest import COMPRESSIONS, MANIFEST_NAME, Manifest, load_manifest
from reproml.records.source_fingerprint import source_changes
from reproml.tracking import experiment as rx
from reproml.tracking.recording import record_dataset
from reproml.tracking.records_read import read_records_in_run

SERIALIZATION_KEY = "serialization"
# Sacred's own commands only print or save the config: they never read the records.
CONFIG_ONLY_COMMANDS = rx.CONFIG_ONLY_COMMANDS
_log = logging.getLogger("reproml")


def describe_records(manifest: Manifest) -> str:
    """Return whose records `manifest` describes: ``dataset 'x' from <source>, fingerprint <12>``.

    The dataset is the source's ``name`` (else its ``type``), the source its file, path or
    folders; parts the manifest does not hold are left out.
    """
    source = manifest.source if isinstance(manifest.source, Mapping) else {}
    parts = []
    name = source.get("name") or source.get("type")
    if name:
        parts.append(f"dataset {name!r}")
    where = source_location(source)
    if where:
        parts.append(f"from {where}")
    fingerprint = manifest.fingerprint or manifest.compute_fingerprint()
    parts.append(f"fingerprint {fingerprint[:12]}")
    return ", ".join(parts)


def source_location(source: Mapping[str, Any]) -> str | None:
    """Return where a manifest's source came from: its file, path or folders (None: unknown)."""
    for key in ("file", "path"):
        if isinstance(source.get(key), str):
            return source[key]
    folders = source.get("folders")
    if isinstance(folders, Mapping) and folders:
        return ", ".join(f"{split} {folder}" for split, folder in folders.items())
    return None


def prefixed_entries(config: Mapping[str, Any], path: str) -> dict[str, Any]:
    """Return the ingredient's entries of the run's `config` keyed by full path (``path.entry``).

    Args:
      config: the whole config, as a Sacred config hook receives it.
      path: the ingredient's path (``Ingredient.path``), e.g. "dataset".
    """
    scoped: Any = config
    for part in path.split("."):
        scoped = scoped[part]
    return {f"{path}.{key}": value for key, value in scoped.items()}


def check_record_entries(entries: Mapping[str, Any], path: str) -> None:
    """Refuse bad values of the entries every record ingredient has, naming the entry.

    Args:
      entries: the ingredient's entries keyed by full path (`prefixed_entries`).
      path: the ingredient's path, e.g. "dataset".

    Raises:
      ConfigError: ``data_dir`` is not a non-empty path (an empty one would write shards and a
        manifest into the current directory) or is a file, ``samples_per_record`` is not an
        int >= 1, ``max_examples`` not None or an int >= 1, ``compression`` not one of
        None/"GZIP"/"ZLIB", ``overwrite_records`` not a bool.
    """
    data_dir = entries[f"{path}.data_dir"]
    if not isinstance(data_dir, str | os.PathLike) or not str(data_dir).strip():
        raise ConfigError(f"{path}.data_dir", "a non-empty directory path", data_dir)
    if Path(data_dir).expanduser().is_file():
        raise ConfigError(f"{path}.data_dir", "a directory (it is a file)", data_dir)
    rx.check_positive_int(entries, f"{path}.samples_per_record")
    if entries[f"{path}.max_examples"] is not None:
        rx.check_positive_int(entries, f"{path}.max_examples")
    rx.check_choice(entries, f"{path}.compression", COMPRESSIONS)
    check_bool(entries, f"{path}.overwrite_records")


def check_class_names(entries: Mapping[str, Any], name: str) -> None:
    """Raise ConfigError unless entry `name` is a list of at least 2 distinct non-empty strings."""
    value = entries[name]
    ok = (
        isinstance(value, list | tuple)
        and len(value) >= 2
        and all(isinstance(v, str) and v.strip() for v in value)
        and len(set(value)) == len(value)
    )
    if not ok:
        raise ConfigError(name, "a list of at least 2 distinct non-empty class names", value)


def check_bool(entries: Mapping[str, Any], *names: str) -> None:
    """Raise ConfigError naming the first of `names` whose value is not True or False."""
    for name in names:
        if not isinstance(entries[name], bool):
            raise ConfigError(name, "True or False", entries[name])


def serialization_of(
    own: Mapping[str, Any], entries: Sequence[str], path_entries: Sequence[str] = ("data_path",)
) -> dict[str, Any]:
    """Return the serialization entries of the ingredient's config `own`.

    Args:
      own: the ingredient's own config (``config["dataset"]``, or ``_config`` in a function
        the ingredient captures).
      entries: the entries that decide what the records hold.
      path_entries: entries holding file paths, made absolute (None stays None), so the same
        file named from another directory is the same entry.
    """
    chosen = {entry: own[entry] for entry in entries}
    for entry in path_entries:
        if chosen.get(entry) is not None:
            chosen[entry] = str(Path(chosen[entry]).expanduser().resolve())
    return chosen


def add_config_check(
    ingredient: Ingredient,
    check_own_entries: Callable[[Mapping[str, Any], str], None],
    serialization: Callable[[Mapping[str, Any]], dict[str, Any]],
) -> None:
    """Give a record ingredient its config hook: bad values and other records refused first.

    The hook checks the entries every record ingredient has (`check_record_entries`), then the
    ingredient's own, then refuses records of another config (`refuse_other_records`), before
    anything runs or is recorded.

    Args:
      ingredient: the dataset ingredient (its ``path`` names the entries).
      check_own_entries: ``check_own_entries(entries, path)`` raises ConfigError naming an
        entry of the ingredient's own (entries keyed by full path, `prefixed_entries`).
      serialization: ``serialization(own config) -> the serialization entries`` (see
        `serialization_of`).
    """

    def check_config(
        config: dict[str, Any], command_name: str, logger: logging.Logger
    ) -> dict[str, Any]:
        """Refuse bad values, and records made from another config, before anything runs."""
        path = ingredient.path
        entries = prefixed_entries(config, path)
        check_record_entries(entries, path)
        check_own_entries(entries, path)
        refuse_other_records(config, command_name, path, serialization(config[path]))
        return {}

    ingredient.config_hook(check_config)


def refuse_other_records(
    config: Mapping[str, Any], command_name: str, path: str, wanted: Mapping[str, Any]
) -> None:
    """The last check of a record ingredient's config hook: refuse records of another config.

    Skipped for Sacred's own print/save commands (`CONFIG_ONLY_COMMANDS`) and when the
    ingredient's ``overwrite_records`` is True.

    Args:
      config: the whole config, as the config hook receives it.
      command_name: the command about to run.
      path: the ingredient's path, e.g. "dataset".
      wanted: this run's serialization config (`serialization_of`).

    Raises:
      SerializationMismatchError: see `check_records_reusable`.
    """
    own = prefixed_entries(config, path)
    if command_name in CONFIG_ONLY_COMMANDS or own[f"{path}.overwrite_records"]:
        return
    check_records_reusable(own[f"{path}.data_dir"], wanted, path)


def recorded_serialization(manifest: Manifest) -> dict[str, Any] | None:
    """Return the serialization config stored in `manifest` (None: written without one)."""
    recorded = manifest.source.get(SERIALIZATION_KEY)
    return dict(recorded) if isinstance(recorded, Mapping) else None


def serialization_differences(
    recorded: Mapping[str, Any] | None, wanted: Mapping[str, Any], path: str
) -> dict[str, tuple]:
    """Return ``{"path.entry": (recorded value, wanted value)}`` for every entry that differs.

    Values are compared in their JSON form (how the manifest stores them). A manifest without a
    serialization config differs in every entry (its values are shown as "unrecorded").
    """
    wanted = json.loads(json.dumps(dict(wanted)))
    if recorded is None:
        return {f"{path}.{k}": ("unrecorded", v) for k, v in wanted.items()}
    missing = object()
    differences = {}
    for key in sorted(set(wanted) | set(recorded)):
        there, here = recorded.get(key, missing), wanted.get(key, missing)
        if there != here:
            differences[f"{path}.{key}"] = (
                "unrecorded" if there is missing else there,
                "unset" if here is missing else here,
            )
    return differences


def check_records_reusable(
    record_dir: str | os.PathLike, wanted: Mapping[str, Any], path: str
) -> Manifest | None:
    """Return the manifest of `record_dir` if its records were made from `wanted`.

    Args:
      record_dir: the ingredient's ``data_dir``.
      wanted: this run's serialization config (JSON values).
      path: the ingredient's path, e.g. "dataset" (used to name entries in the error).

    Returns:
      The manifest, or None when `record_dir` has no manifest yet (serialize it).

    Raises:
      SerializationMismatchError: the manifest records another serialization config (or none);
        the message says whose records they are (`describe_records`).
      SourceChangedError: the same config, but the source it describes changed since (a file
        added to, removed from or changed in an image folder; another sha256 of a data file).
      RecordError: the manifest is not valid.
    """
    if not (Path(record_dir) / MANIFEST_NAME).is_file():
        return None
    manifest = load_manifest(record_dir)
    manifest_path = Path(record_dir) / MANIFEST_NAME
    differences = serialization_differences(recorded_serialization(manifest), wanted, path)
    if differences:
        raise SerializationMismatchError(
            manifest_path, differences, path, describe_records(manifest)
        )
    change = source_changes(manifest.source)
    if change:
        raise SourceChangedError(manifest_path, change, path, describe_records(manifest))
    return manifest


def ensure_records(
    _run: Any,
    record_dir: str | os.PathLike,
    wanted: Mapping[str, Any],
    write: Callable[[dict[str, Any]], Manifest],
    *,
    overwrite: bool,
    path: str,
    name: str,
) -> Manifest:
    """Return the manifest of records made from `wanted`: reused, or written now; record it.

    Before it returns, the run takes a read lease on `record_dir` and checks every shard's
    sha256 against the manifest (again when the run ends; `read_records_in_run`), so a run
    never trains on shards that are not the manifest's, and nobody rewrites them under it.

    Args:
      _run: the Sacred run; the dataset (fingerprint, source with the data file's sha256,
        manifest) is recorded in it (`reproml.tracking.recording.record_dataset`).
      record_dir: the ingredient's ``data_dir``.
      wanted: this run's serialization config.
      write: ``write(serialization) -> Manifest`` writes the records into `record_dir` and
        stores `serialization` as ``source["serialization"]`` of the manifest.
      overwrite: serialize again even when `record_dir` has records (``overwrite_records``).
      path: the ingredient's path, e.g. "dataset".
      name: the dataset name recorded when the manifest's source has none.

    Raises:
      SerializationMismatchError: `record_dir` holds records of another config and not
        `overwrite` (see `check_records_reusable`).
      SourceChangedError: the same config, but its source changed since, and not `overwrite`.
      RecordError: `write` did not store `wanted` in the manifest.
      RecordError: a shard does not match the manifest (named).
      RecordsInUseError: writing (`overwrite`) into `record_dir` that a live run reads.
    """
    wanted = json.loads(json.dumps(dict(wanted)))
    manifest = None if overwrite else check_records_reusable(record_dir, wanted, path)
    replaced = None
    if manifest is None:
        why = "overwrite_records=True" if overwrite else "no records yet"
        if overwrite:
            replaced = _records_replaced(record_dir)
        _log.info("serializing into %s (%s)", record_dir, why)
        manifest = write(wanted)
        if recorded_serialization(manifest) != wanted:
            raise RecordError(
                Path(record_dir) / MANIFEST_NAME,
                f"the writer did not store the serialization config as source[{SERIALIZATION_KEY!r}]",
                "Pass source={..., 'serialization': serialization} to write_records",
            )
    else:
        _log.info(
            "reusing the records in %s (same serialization config, source unchanged)", record_dir
        )
    read_records_in_run(_run, record_dir, manifest)
    info = record_dataset(_run, record_dir, name)
    if replaced is not None:
        info["replaced"] = replaced
    for split, classes in info.get("classes_missing", {}).items():
        _log.warning(
            "split %r of the records in %s has no examples of %d class(es): %s",
            split,
            record_dir,
            len(classes),
            ", ".join(classes),
        )
    return manifest


def serialize(ensure: Callable[[], Manifest]) -> str:
    """Do an experiment's ``serialize`` command: ``ensure()``, then print its fingerprint.

    Args:
      ensure: the ingredient's captured ``ensure_records`` (reuse or write, record the dataset).

    Returns:
      The dataset fingerprint (the command's result), printed as ``<record dir>: <fingerprint>``.
    """
    manifest = ensure()
    print(f"{manifest.record_dir}: {manifest.fingerprint}")
    return manifest.fingerprint


def _records_replaced(record_dir: str | os.PathLike) -> dict[str, Any] | None:
    """Log and return whose records an overwrite replaces (None: there were none)."""
    if not (Path(record_dir) / MANIFEST_NAME).is_file():
        return None
    try:
        earlier = load_manifest(record_dir)
    except RecordError as err:
        _log.warning("overwrite_records=True replaces an unreadable manifest: %s", err)
        return {"manifest": "unreadable"}
    source = earlier.source if isinstance(earlier.source, Mapping) else {}
    _log.warning(
        "overwrite_records=True replaces the records in %s (%s)",
        record_dir,
        describe_records(earlier),
    )
    return {
        "name": source.get("name") or source.get("type"),
        "source": source_location(source),
        "fingerprint": earlier.fingerprint or earlier.compute_fingerprint(),
        SERIALIZATION_KEY: recorded_serialization(earlier),
    }
