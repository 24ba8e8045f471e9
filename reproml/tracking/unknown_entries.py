"""A config entry the experiment does not have, refused in one line that names the closest ones.

Sacred refuses such an entry with a ``ConfigAddedError`` whose message spans several lines and,
for an ingredient's entry (``with dataset.trian_dir=x``), shows the value as ``None`` instead of
the one given. `unknown_entry_error` turns it into one `UnknownConfigEntryError` line with the
value given and the entries of the same ingredient whose names are closest.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any

from sacred.utils import convert_to_nested_dict, get_by_dotted_path, iterate_flattened

from reproml.errors import UnknownConfigEntryError


def unknown_entry_error(
    entry: str, config_updates: Mapping[str, Any] | None, scaffold_config: Mapping[str, Any]
) -> UnknownConfigEntryError:
    """Return the error for `entry`, an entry not in the config of the experiment or ingredient.

    Args:
      entry: the full dotted name Sacred refused (``dataset.trian_dir``).
      config_updates: the run's ``config_updates`` (dotted or nested), for the value given.
      scaffold_config: the config of the experiment or ingredient `entry` was added to (its
        keys without the ingredient's prefix, as Sacred hands them over).
    """
    given = get_by_dotted_path(convert_to_nested_dict(dict(config_updates or {})), entry)
    parts = entry.split(".")
    known = [key for key, _ in iterate_flattened(dict(scaffold_config))]
    candidates = {".".join([*parts[:depth], key]) for depth in range(len(parts)) for key in known}
    candidates.discard(entry)  # Sacred's config already holds the refused entry
    suggestions = difflib.get_close_matches(entry, sorted(candidates), n=2, cutoff=0.75)
    return UnknownConfigEntryError(entry, given, suggestions)
