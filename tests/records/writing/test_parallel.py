from __future__ import annotations

import pytest

from reproml.errors import HandlerError
from reproml.records.writer import write_records
from tests.records.writing.conftest import PATTERN, files_in


def write(record_dir, handlers, split_rows, **kwargs):
    return write_records(
        record_dir,
        PATTERN,
        handlers,
        4,
        {s: len(r) for s, r in split_rows.items()},
        lambda split: iter(split_rows[split]),
        progress=False,
        **kwargs,
    )


def test_parallel_write_equals_serial_bytes_and_fingerprint_and_bad_row_cleans_up(
    tmp_path, handlers, split_rows
):
    serial = write(tmp_path / "serial", handlers, split_rows, num_workers=0, compression="GZIP")
    parallel = write(tmp_path / "parallel", handlers, split_rows, num_workers=2, compression="GZIP")
    assert parallel.to_json() == serial.to_json()
    assert files_in(tmp_path / "parallel") == files_in(tmp_path / "serial")
    for name in files_in(tmp_path / "serial"):
        assert (tmp_path / "parallel" / name).read_bytes() == (
            tmp_path / "serial" / name
        ).read_bytes()

    split_rows["test"][9]["label"] = "nine"
    with pytest.raises(HandlerError) as info:
        write(tmp_path / "bad", handlers, split_rows, num_workers=2)
    assert (info.value.split, info.value.row, info.value.key) == ("test", 9, "label")
    assert "expected a class name of ['zero', 'one', 'two'], got 'nine'" in str(info.value)
    assert files_in(tmp_path / "bad") == []


def test_locally_defined_handlers_work_in_parallel(tmp_path, handlers, split_rows):
    # Shards are written by threads: handlers need not be picklable, and the bytes are the same.
    class Local(type(handlers["xy"])):
        pass

    handlers["xy"] = Local(shape=(2,))
    serial = write(tmp_path / "serial", handlers, split_rows, num_workers=0)
    parallel = write(tmp_path / "parallel", handlers, split_rows, num_workers=2)
    assert parallel.fingerprint == serial.fingerprint
    assert files_in(tmp_path / "parallel") == files_in(tmp_path / "serial")
