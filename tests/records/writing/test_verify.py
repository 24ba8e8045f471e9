from __future__ import annotations

import json
import shutil

import pytest

from reproml.errors import RecordError
from reproml.records.manifest import MANIFEST_NAME, load_manifest
from reproml.records.verify import FIX, verify, verify_or_raise, verify_shards
from reproml.records.writer import write_records
from tests.records.writing.conftest import PATTERN


@pytest.fixture
def record_dir(tmp_path, handlers, split_rows):
    write_records(
        tmp_path,
        PATTERN,
        handlers,
        5,
        {s: len(r) for s, r in split_rows.items()},
        lambda split: iter(split_rows[split]),
        num_workers=0,
        progress=False,
        compression="GZIP",
    )
    return tmp_path


def paths(problems):
    return [p.path for p in problems]


def test_a_fresh_write_verifies(record_dir):
    assert verify(record_dir) == []
    assert verify_or_raise(record_dir, progress=True).splits["train"].num_examples == 23


def test_flipped_byte_is_named_with_the_fix(record_dir):
    shard = record_dir / "train-002.tfrecord"
    data = bytearray(shard.read_bytes())
    data[len(data) // 2] ^= 0x01
    shard.write_bytes(bytes(data))
    problems = verify(record_dir)
    assert paths(problems) == [str(shard)]
    assert "sha256" in problems[0].problem and "same size" in problems[0].problem
    assert "shard 2 of split 'train'" in problems[0].problem
    assert problems[0].fix == FIX


def test_truncated_and_missing_shards_are_all_named(record_dir):
    truncated = record_dir / "eval-001.tfrecord"
    truncated.write_bytes(truncated.read_bytes()[:-7])
    (record_dir / "test-000.tfrecord").unlink()
    problems = verify(record_dir)
    assert paths(problems) == [str(truncated), str(record_dir / "test-000.tfrecord")]
    assert "bytes" in problems[0].problem and "truncated" in problems[0].problem
    assert "is missing" in problems[1].problem and "'test'" in problems[1].problem
    with pytest.raises(RecordError) as info:
        verify_or_raise(record_dir)
    message = str(info.value)
    assert "2 problem(s)" in message
    assert "eval-001.tfrecord" in message and "test-000.tfrecord" in message
    assert "fix: re-serialize the data with the same write_records call" in message


def test_edited_manifest_is_named_by_its_fingerprint(record_dir):
    path = record_dir / MANIFEST_NAME
    data = json.loads(path.read_text())
    data["schema"]["image"]["spec"]["shape"] = [2, 8, 1]
    path.write_text(json.dumps(data))
    problems = verify(record_dir)
    assert paths(problems) == [str(path)]
    assert "fingerprint" in problems[0].problem and "edited" in problems[0].problem


def test_manifest_of_another_write_names_every_differing_shard(
    record_dir, tmp_path_factory, handlers, split_rows
):
    other = tmp_path_factory.mktemp("other")
    rows = {s: [dict(r, label=(r["label"] + 1) % 3) for r in rs] for s, rs in split_rows.items()}
    write_records(
        other,
        PATTERN,
        handlers,
        5,
        {"train": 23, "eval": 7, "test": 10},
        lambda split: iter(rows[split]),
        num_workers=0,
        progress=False,
        compression="GZIP",
    )
    shutil.copy(other / MANIFEST_NAME, record_dir / MANIFEST_NAME)
    problems = verify(record_dir)
    assert sorted(paths(problems)) == sorted(str(p) for p in record_dir.glob("*.tfrecord"))
    assert all(p.fix == FIX for p in problems)


@pytest.mark.parametrize(
    ("damage", "mode"),
    [
        (lambda p: p.unlink(), None),
        (lambda p: p.write_bytes(p.read_bytes()[:-7]), "size"),
        (lambda p: p.write_bytes(bytes([p.read_bytes()[0] ^ 1]) + p.read_bytes()[1:]), "sha256"),
    ],
    ids=["missing", "truncated", "flipped"],
)
def test_reading_and_verify_report_a_shard_with_the_same_check(record_dir, damage, mode):
    """`verify_shards` (before reading) raises the first problem `verify` lists, word for word."""
    shard = record_dir / "eval-001.tfrecord"
    damage(shard)
    (problem,) = verify(record_dir)
    with pytest.raises(RecordError) as info:
        verify_shards(load_manifest(record_dir), record_dir, "eval", mode)
    assert str(info.value) == str(problem)
    assert problem.path == str(shard) and "shard 1 of split 'eval'" in problem.problem
    verify_shards(load_manifest(record_dir), record_dir, "train", mode)  # other splits pass


def test_unlisted_shard_and_leftover_temp_file_are_reported(record_dir):
    (record_dir / "train-007.tfrecord").write_bytes(b"stale")
    (record_dir / ".train-000.tfrecord.99999999-0123abcd.reproml-tmp").write_bytes(b"partial")
    (record_dir / "notes.txt").write_text("not a shard, not reported")
    problems = verify(record_dir)
    assert sorted(paths(problems)) == [
        str(record_dir / ".train-000.tfrecord.99999999-0123abcd.reproml-tmp"),
        str(record_dir / "train-007.tfrecord"),
    ]


def test_no_manifest_raises_naming_it(tmp_path):
    with pytest.raises(RecordError, match=f"{MANIFEST_NAME}: no manifest here"):
        verify(tmp_path)
    (tmp_path / MANIFEST_NAME).write_text("{not json")
    with pytest.raises(RecordError, match="is not a valid manifest"):
        verify_or_raise(tmp_path)
