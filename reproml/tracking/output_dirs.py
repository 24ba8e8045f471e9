"""Where a run may write: never among the records of a runs store or of a dataset.

A run's output directories are its config entries named ``*_dir`` (``model_dir``,
``evaluator_dir``, ``dataset.data_dir``, ...). Checked before the run starts (nothing recorded
yet), one refusal names the entry, its value and the store or record dir it falls in:

* inside a runs store (a file store the run records in): every directory there is read as a run,
  so listings would call it corrupt, and a run's record dir would get foreign files. The one
  exception is a recorded run's own model dir, ``<store>/<id>/model`` (reused to resume training
  or to evaluate, export or embed that model; `reproml rm` then knows the dependent run);
* inside a record dir (a directory holding ``manifest.json``), for every entry but the record
  dirs themselves (`RECORD_DIR_ENTRIES`): checkpoints among the shards of a dataset.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from reproml.errors import ConfigError
from reproml.records.manifest import MANIFEST_NAME

# Entries whose value is a record dir (read or serialized there): not refused for being one.
RECORD_DIR_ENTRIES = frozenset({"data_dir", "baseline_dir"})
RUN_RECORD = "run.json"  # the file every run directory of a file store holds
RUN_MODEL_DIR = "model"  # a run's own model dir inside its run directory


def dir_entries(config: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, str]]:
    """Yield ``(full entry name, value)`` for every string entry named ``*_dir`` in `config`."""
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            yield from dir_entries(value, f"{name}.")
        elif isinstance(key, str) and key.endswith("_dir") and isinstance(value, str) and value:
            yield name, value


def _is_a_runs_model_dir(store: Path, path: Path) -> bool:
    """Whether `path` is (inside) ``<store>/<id>/model`` of a recorded run."""
    parts = path.relative_to(store).parts
    return (
        len(parts) >= 2 and parts[1] == RUN_MODEL_DIR and (store / parts[0] / RUN_RECORD).is_file()
    )


def _record_dir_holding(path: Path) -> Path | None:
    """The nearest directory at or above `path` holding a manifest (a record dir), else None."""
    for directory in (path, *path.parents):
        if (directory / MANIFEST_NAME).is_file():
            return directory
    return None


def check_output_dirs(config: Mapping[str, Any], runs_stores: Iterable[str | os.PathLike]) -> None:
    """Refuse a ``*_dir`` entry inside a runs store or a record dir (see the module docstring).

    Args:
      config: the run's whole config.
      runs_stores: the file stores the run records in.

    Raises:
      ConfigError: names the entry, its value and the store or record dir it falls in.
    """
    stores = [Path(s).expanduser().resolve() for s in runs_stores]
    for entry, value in dir_entries(config):
        path = Path(value).expanduser().resolve()
        for store in stores:
            if path.is_relative_to(store) and not _is_a_runs_model_dir(store, path):
                raise ConfigError(
                    entry,
                    f"a directory outside the runs store {store} (every directory there is read "
                    f"as a run; only a run's own model dir, {store}/ID/{RUN_MODEL_DIR}, may be "
                    "reused)",
                    value,
                )
        if entry.rsplit(".", 1)[-1] in RECORD_DIR_ENTRIES:
            continue
        records = _record_dir_holding(path)
        if records is not None:
            raise ConfigError(
                entry,
                f"a directory outside the record dir {records} (it holds a dataset's "
                f"{MANIFEST_NAME} and shards)",
                value,
            )
