"""Row source: a CSV or JSON-lines index of files with label columns (e.g. Open Images' CSVs).

One line of the index names a file (``path_column``, relative to `root`, by default the
index's folder) and its labels::

    path,labels,split            {"path": "a.jpg", "labels": ["cat", "dog"], "split": "train"}
    a.jpg,cat|dog,train          {"path": "b.jpg", "labels": [], "split": "eval"}

A CSV label column listed in `multi_label_columns` is split on `label_separator` into a list
(an empty cell is an empty list); in JSON lines, lists are lists. With ``group_by_path=True``
lines naming the same file are merged into one row, each label column becoming the list of
its values in file order -- the layout of Open Images' ``*-annotations-human-imagelabels.csv``
(one line per image and label). The sha256 of the index file is recorded in the manifest's
source, with the columns read; every file is checked to exist before anything is written.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import os
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from reproml.errors import ConfigError, RecordError
from reproml.records.file_hash import file_sha256
from reproml.records.sources import RowSource


@dataclasses.dataclass(frozen=True)
class IndexSource(RowSource):
    """A `RowSource` that also lists the label values seen in each label column.

    Attributes:
      label_names: label column -> the sorted distinct values of all splits (for
        ``ClassLabelHandler(names=...)`` or ``MultiLabelHandler(names=...)``).
    """

    label_names: dict[str, tuple[str, ...]] = dataclasses.field(default_factory=dict)


def _read_lines(path: Path) -> tuple[str, list[tuple[int, dict[str, Any]]]]:
    """Returns the index's kind ("csv" or "jsonl") and its ``(line number, record)`` pairs."""
    kind = "jsonl" if path.suffix.lower() in (".jsonl", ".ndjson") else "csv"
    if not path.is_file():
        raise RecordError(path, "no such index file", "Give the CSV or JSON-lines index")
    records: list[tuple[int, dict[str, Any]]] = []
    try:
        with open(path, encoding="utf-8", newline="") as f:
            if kind == "csv":
                reader = csv.DictReader(f)
                for record in reader:
                    if None in record:
                        raise RecordError(
                            path, f"line {reader.line_num}: more cells than the header has"
                        )
                    if any(value is None for value in record.values()):
                        raise RecordError(
                            path, f"line {reader.line_num}: fewer cells than the header has"
                        )
                    records.append((reader.line_num, record))
            else:
                for number, line in enumerate(f, start=1):
                    if not line.strip():
                        continue
                    try:
                        record = json.loads(line)
                    except json.JSONDecodeError as err:
                        raise RecordError(path, f"line {number}: not JSON ({err})") from None
                    if not isinstance(record, dict):
                        raise RecordError(path, f"line {number}: expected a JSON object")
                    records.append((number, record))
    except (UnicodeDecodeError, csv.Error) as err:
        raise RecordError(path, f"is not a readable {kind} file ({err})") from err
    return kind, records


def rows_from_index(
    index_file: str | os.PathLike,
    *,
    path_column: str = "path",
    label_columns: Sequence[str] = ("label",),
    multi_label_columns: Sequence[str] = (),
    label_separator: str = "|",
    split_column: str | None = None,
    splits: Sequence[str] = ("train", "eval", "test"),
    root: str | os.PathLike | None = None,
    image_key: str = "image",
    group_by_path: bool = False,
) -> IndexSource:
    """Reads a CSV or JSON-lines (``.jsonl``) index into rows ``{image_key: path, column: labels}``.

    Args:
      index_file: the index (``.jsonl``/``.ndjson`` is read as JSON lines, anything else as CSV
        with a header line).
      path_column: the column holding the file path.
      label_columns: the columns copied into each row under their own names.
      multi_label_columns: CSV label columns split on `label_separator` into lists.
      label_separator: the separator of multi-label CSV cells.
      split_column: a column naming each line's split; None puts every line in "train".
      splits: the splits a line may name (in the order `write_records` writes them).
      root: the folder paths are relative to (default: the index's folder).
      image_key: the row key of the absolute file path.
      group_by_path: merge lines naming the same file (labels become lists in file order).

    Raises:
      RecordError: a missing index or column, an unreadable line, an empty path, a file that
        does not exist, or an unknown split (names the index file and the line).
      ConfigError: a multi-label column that is not a label column.
    """
    path = Path(index_file)
    unknown = sorted(set(multi_label_columns) - set(label_columns))
    if unknown:
        raise ConfigError("multi_label_columns", f"label columns of {list(label_columns)}", unknown)
    kind, records = _read_lines(path)
    root_dir = Path(root) if root is not None else path.parent
    needed = [path_column, *label_columns] + ([split_column] if split_column else [])
    listing: dict[str, list[dict[str, Any]]] = {split: [] for split in splits}
    by_path: dict[tuple[str, str], dict[str, Any]] = {}
    for number, record in records:
        missing = [c for c in needed if c not in record]
        if missing:
            raise RecordError(
                path,
                f"line {number}: no column {missing} (it has {sorted(record)})",
                "Name the columns with path_column=, label_columns=, split_column=",
            )
        split = str(record[split_column]) if split_column else "train"
        if split not in listing:
            raise RecordError(path, f"line {number}: split {split!r} is not one of {list(splits)}")
        file_name = record[path_column]
        if not isinstance(file_name, str) or not file_name.strip():
            raise RecordError(path, f"line {number}: column {path_column!r} holds no file path")
        file = (root_dir / file_name).resolve()
        if not file.is_file():
            raise RecordError(path, f"line {number}: {path_column!r} names {file}, no such file")
        labels = {}
        for column in label_columns:
            value = record[column]
            if kind == "csv" and column in multi_label_columns:
                value = value.split(label_separator) if value else []
            labels[column] = value
        if group_by_path:
            known = by_path.get((split, str(file)))
            if known is not None:
                for column in label_columns:
                    _add(known[column], labels[column])
                continue
            labels = {column: _add([], value) for column, value in labels.items()}
        row = {image_key: str(file), **labels}
        listing[split].append(row)
        if group_by_path:
            by_path[(split, str(file))] = row
    names = {column: _distinct(listing.values(), column) for column in label_columns}

    def rows_gen(split: str) -> Iterator[dict[str, Any]]:
        if split not in listing:
            raise ConfigError("split", f"one of {list(listing)}", split)
        yield from (dict(row) for row in listing[split])

    size, sha = file_sha256(path)
    source = {
        "type": f"{kind}_index",
        "file": str(path.resolve()),
        "bytes": size,
        "sha256": sha,
        "root": str(root_dir.resolve()),
        "path_column": path_column,
        "label_columns": list(label_columns),
        "multi_label_columns": list(multi_label_columns),
        "label_separator": label_separator if multi_label_columns else None,
        "split_column": split_column,
        "group_by_path": group_by_path,
        "lines": len(records),
    }
    sizes = {split: len(rows) for split, rows in listing.items() if rows}
    return IndexSource(rows_gen, sizes, source, label_names=names)


def _add(values: list, value: Any) -> list:
    """Appends a value (a list's items) to the labels of a grouped row; returns `values`."""
    values.extend(value) if isinstance(value, list) else values.append(value)
    return values


def _distinct(splits: Iterable[list[dict[str, Any]]], column: str) -> tuple[str, ...]:
    """The sorted distinct str values of a label column (lists are looked into)."""
    seen: set[str] = set()
    for rows in splits:
        for row in rows:
            stack = [row[column]]
            while stack:
                value = stack.pop()
                if isinstance(value, list):
                    stack.extend(value)
                elif isinstance(value, str):
                    seen.add(value)
    return tuple(sorted(seen))
