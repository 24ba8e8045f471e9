"""write_records looks each key up in every row in one pass; a bad lookup still names its row."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from reproml.errors import HandlerError
from reproml.records.manifest import load_manifest
from reproml.records.writer import write_records
from tests.records.writing.conftest import NAMES, PATTERN, files_in, read_split
from tests.records.writing.handlers_for_tests import ArrayHandler


def write(record_dir, handlers, rows, **kwargs):
    return write_records(
        record_dir,
        PATTERN,
        handlers,
        5,
        {"train": len(rows)},
        lambda split: iter(rows),
        num_workers=kwargs.pop("num_workers", 0),
        progress=False,
        **kwargs,
    )


@pytest.mark.parametrize("num_workers", [0, 2])
@pytest.mark.parametrize(
    ("bad_row", "message"),
    [
        ({"label": 1}, "expected the row to have this key, got a row with keys ['label']"),
        ([1, 2], "expected the row to have this key, got a row with keys list"),
        (None, "expected the row to have this key, got a row with keys NoneType"),
    ],
    ids=["missing key", "a list", "None"],
)
def test_bad_row_is_located_in_a_later_shard(tmp_path, bad_row, message, num_workers):
    rows: list[Any] = [{"image": np.zeros((2, 2), np.uint8), "label": 1} for _ in range(12)]
    rows[8] = bad_row  # the second shard (rows 5-9)
    with pytest.raises(HandlerError) as err:
        write(tmp_path, {"image": ArrayHandler((2, 2))}, rows, num_workers=num_workers)
    assert (err.value.split, err.value.row, err.value.key) == ("train", 8, "image")
    assert str(err.value) == f"split 'train', row 8, key 'image': {message}"
    assert files_in(tmp_path) == []


class NestedHandler(ArrayHandler):
    """Reads ``row["meta"][key]``: a handler with its own `get_value`."""

    def get_value(self, row, key):
        try:
            return row["meta"][key]
        except KeyError:
            raise HandlerError(key, "row['meta'] to have this key", f"{sorted(row)}") from None


def test_a_handler_with_its_own_get_value_is_used(tmp_path):
    rows = [{"meta": {"image": np.full((2, 2), i, np.uint8)}} for i in range(7)]
    manifest = write(tmp_path, {"image": NestedHandler((2, 2))}, rows)
    assert manifest.splits["train"].num_examples == 7
    images = read_split(tmp_path, "train")["image"]
    assert images.reshape(7, 4).tolist() == [[i] * 4 for i in range(7)]
    rows[6] = {"image": np.zeros((2, 2), np.uint8)}  # the plain key, but not under "meta"
    with pytest.raises(HandlerError, match=r"split 'train', row 6, key 'image': expected row"):
        write(tmp_path / "again", {"image": NestedHandler((2, 2))}, rows)


def test_rows_of_any_mapping_type_give_the_bytes_of_dict_rows(tmp_path):
    from types import MappingProxyType

    from tests.records.writing.handlers_for_tests import ClassLabelHandler

    rows = [{"image": np.full((2, 2), i, np.uint8), "label": i % 3} for i in range(11)]
    handlers = {"image": ArrayHandler((2, 2)), "label": ClassLabelHandler(NAMES)}
    plain = write(tmp_path / "dict", handlers, rows)
    proxied = write(tmp_path / "proxy", handlers, [MappingProxyType(r) for r in rows])
    assert proxied.fingerprint == plain.fingerprint
    assert load_manifest(tmp_path / "proxy").to_json() == load_manifest(tmp_path / "dict").to_json()
