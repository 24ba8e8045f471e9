"""Where a run may write: never among the records of a runs store or of a dataset.

Checked before the run starts (nothing recorded yet) on every config entry named ``*_dir``; one
refusal names the entry, its value and the store or record dir it falls in. A run's *output*
dirs are ``model_dir`` and `OUTPUT_DIR_ENTRIES` (checkpoints, exports, caches it writes):

* an output dir inside a runs store (a file store the run records in) is refused: every
  directory there is read as a run, so listings would call it corrupt, and a run's record dir
  would get foreign files. The one exception is a recorded run's own model dir,
  ``<store>/<id>/model`` (reused to resume training or to evaluate, export or embed that model;
  `reproml rm` then knows the dependent run);
* an output dir inside a record dir (a directory holding ``manifest.json``) is refused:
  checkpoints among the shards of a dataset;
* any other ``*_dir`` entry (``dataset.data_dir``, a record dir an experiment reads) inside a
  runs store is refused unless it lies inside a recorded run's directory: elsewhere in the store
  it would be read as a (corrupt) run.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from reproml.errors import ConfigError
from reproml.records.manifest import MANIFEST_NAME

# Entries (last part of the name) a run writes into besides its model_dir (``*model_dir``).
OUTPUT_DIR_ENTRIES = frozenset({"export_dir", "evaluator_dir", "output_dir"})
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


def is_output_entry(entry: str) -> bool:
    """Whether the config entry names a directory the run writes into (see the docstring)."""
    name = entry.rsplit(".", 1)[-1]
    return name.endswith("model_dir") or name in OUTPUT_DIR_ENTRIES


def _in_a_run_dir(store: Path, path: Path, under: str | None = None) -> bool:
    """Whether `path` lies in a recorded run's directory (in its `under` subdirectory if given)."""
    parts = path.relative_to(store).parts
    if len(parts) < 2 or not (store / parts[0] / RUN_RECORD).is_file():
        return False
    return under is None or parts[1] == under


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
        output = is_output_entry(entry)
        for store in stores:
            if path.is_relative_to(store) and not _in_a_run_dir(
                store, path, RUN_MODEL_DIR if output else None
            ):
                reused = f"{store}/ID/{RUN_MODEL_DIR}" if output else f"{store}/ID/..."
                raise ConfigError(
                    entry,
                    f"a directory outside the runs store {store} (every directory there is read "
                    f"as a run; only a run's own {'model dir' if output else 'directory'}, "
                    f"{reused}, may be reused)",
                    value,
                )
        records = _record_dir_holding(path) if output else None
        if records is not None:
            raise ConfigError(
                entry,
                f"a directory outside the record dir {records} (it holds a dataset's "
                f"{MANIFEST_NAME} and shards)",
                value,
            )
