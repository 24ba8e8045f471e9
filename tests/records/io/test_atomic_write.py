"""atomic_output / write_atomic: the final name holds the old file or the complete new one."""

from __future__ import annotations

import hashlib

import pytest

from reproml.records.atomic_write import atomic_output, write_atomic


def test_block_that_succeeds_is_committed_by_rename(tmp_path):
    target = tmp_path / "data.bin"
    with atomic_output(target) as f:
        f.write(b"part one, ")
        assert not target.exists()  # nothing under the final name while writing
        (temp,) = tmp_path.iterdir()
        assert temp.name.startswith(".data.bin.") and temp.name.endswith(".tmp")
        f.write(b"part two")
    assert target.read_bytes() == b"part one, part two"
    assert list(tmp_path.iterdir()) == [target]


def test_block_that_raises_keeps_the_old_file_and_removes_the_temp(tmp_path):
    target = tmp_path / "data.bin"
    target.write_bytes(b"old")
    with pytest.raises(ValueError, match="checksum"):
        with atomic_output(target) as f:
            f.write(b"new but wrong")
            raise ValueError("checksum does not match")
    assert target.read_bytes() == b"old"
    assert list(tmp_path.iterdir()) == [target]


def test_interrupt_in_the_block_removes_the_temp(tmp_path):
    with pytest.raises(KeyboardInterrupt):
        with atomic_output(tmp_path / "data.bin") as f:
            f.write(b"x")
            raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("data", [b"\x00bytes", "text é"])
def test_write_atomic_returns_the_sha256_of_what_it_wrote(tmp_path, data):
    target = tmp_path / "out"
    digest = write_atomic(target, data)
    assert target.read_bytes() == (data.encode("utf-8") if isinstance(data, str) else data)
    assert digest == hashlib.sha256(target.read_bytes()).hexdigest()
    assert write_atomic(target, b"replaced") == hashlib.sha256(b"replaced").hexdigest()
    assert target.read_bytes() == b"replaced" and list(tmp_path.iterdir()) == [target]
