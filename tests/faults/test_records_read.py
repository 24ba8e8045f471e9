"""Reading damaged record directories: every error names the file and says how to fix it.

What TensorFlow itself does (measured with TF 2.15.1): a truncated shard is read as a shorter
one without any error, and a flipped byte gives ``DataLossError: corrupted record at <offset>``
(GZIP: ``inflate() failed``) without the file name. reproml checks sizes (or hashes) before
reading, and while reading either checks every shard's sha256 and record index (manifests with
a record index) or counts every shard's records (older manifests: the "old" cases), so both
end in errors that name the shard.
"""

from __future__ import annotations

import json

import pytest
import tensorflow as tf

from reproml.errors import RecordError
from reproml.records import record_index
from reproml.records.manifest import MANIFEST_NAME
from reproml.records.reader import dataset_from_records, input_fn
from tests.records.reading.tiny_records import without_record_index, write_tiny_records

FIX = "Re-serialize the data (write_records), or restore the file from a copy"
SHARD = "train-00001.tfrecord"


@pytest.fixture(
    params=[(None, True), ("GZIP", True), (None, False), ("GZIP", False)],
    ids=["plain", "gzip", "plain-old", "gzip-old"],
)
def record_dir(request, tmp_path):
    compression, indexed = request.param
    write_tiny_records(tmp_path, compression=compression)
    if not indexed:
        without_record_index(tmp_path)
    return tmp_path


def indexed(record_dir) -> bool:
    return "record_lengths" in (record_dir / MANIFEST_NAME).read_text()


def changed_while_reading(record_dir, path, records: str = "10") -> str:
    """The in-read error naming `path`: its sha256 (indexed), or its record count (old)."""
    if indexed(record_dir):
        return f"{path}: has sha256 [0-9a-f]{{64}} but the manifest lists [0-9a-f]{{64}} \\(shard"
    return f"{path}: read [0-9] of {records} records"


def read_all(record_dir, **kwargs) -> int:
    return sum(1 for _ in dataset_from_records("train", record_dir, keys=["index"], **kwargs))


def flip_byte(path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


def test_intact_directory_reads_fully(record_dir):
    assert read_all(record_dir, verify="sha256") == 37


def test_flipped_byte(record_dir):
    path = record_dir / SHARD
    flip_byte(path, path.stat().st_size // 2)
    with pytest.raises(RecordError) as info:
        read_all(record_dir, verify="sha256")
    assert info.value.path == str(path)
    assert "has sha256" in str(info.value) and "its content changed" in str(info.value)
    assert str(info.value).endswith(FIX)
    # Same size, so verify="size" passes; the reader's check names the file.
    with pytest.raises(
        tf.errors.InvalidArgumentError, match=changed_while_reading(record_dir, path)
    ):
        read_all(record_dir, verify="size")
    with pytest.raises(
        tf.errors.InvalidArgumentError, match=changed_while_reading(record_dir, path)
    ):
        sum(1 for _ in input_fn("train", 4, record_dir, n_epochs=1, shuffle=False)())


def test_truncated_shard(record_dir):
    path = record_dir / SHARD
    size = path.stat().st_size
    path.write_bytes(path.read_bytes()[: size // 2])
    with pytest.raises(
        RecordError, match=f"{path}: has {size // 2} bytes but the manifest lists {size}"
    ):
        read_all(record_dir)
    with pytest.raises(RecordError, match=SHARD):
        input_fn("train", 8, record_dir)  # fails when built, before any Estimator runs
    with pytest.raises(
        tf.errors.InvalidArgumentError, match=changed_while_reading(record_dir, path)
    ):
        read_all(record_dir, verify=None)


@pytest.mark.parametrize("verify", ["size", None])
def test_missing_shard(record_dir, verify):
    path = record_dir / SHARD
    path.unlink()
    with pytest.raises(RecordError) as info:
        read_all(record_dir, verify=verify)
    assert f"{path}: is missing (shard 1 of split 'train'" in str(info.value)
    assert str(info.value).endswith(FIX)


def test_shard_deleted_after_the_dataset_was_built(record_dir):
    dataset = dataset_from_records("train", record_dir, keys=["index"])
    path = record_dir / SHARD
    path.unlink()
    if indexed(record_dir):  # the whole-shard reader's read_file names the file
        with pytest.raises(tf.errors.NotFoundError, match=f"{path}; No such file or directory"):
            sum(1 for _ in dataset)
        return
    with pytest.raises(tf.errors.InvalidArgumentError, match=f"{path}: is missing"):
        sum(1 for _ in dataset)


def test_shard_replaced_by_another(record_dir):
    """A shard overwritten after the manifest was written (here by the last, shorter shard)."""
    path = record_dir / "train-00000.tfrecord"
    listed = path.stat().st_size
    path.write_bytes((record_dir / "train-00003.tfrecord").read_bytes())
    with pytest.raises(
        RecordError, match=f"{path}: has [0-9]+ bytes but the manifest lists {listed}"
    ):
        read_all(record_dir)
    expected = changed_while_reading(record_dir, path).replace("[0-9] of", "7 of")
    with pytest.raises(tf.errors.InvalidArgumentError, match=expected):
        read_all(record_dir, verify=None)


def test_manifest_record_count_that_does_not_match(record_dir):
    manifest = json.loads((record_dir / MANIFEST_NAME).read_text())
    manifest["splits"]["train"]["shards"][2]["records"] = 11
    (record_dir / MANIFEST_NAME).write_text(json.dumps(manifest))
    path = record_dir / "train-00002.tfrecord"
    if indexed(record_dir):  # caught when the dataset is built, naming the manifest and shard
        with pytest.raises(RecordError, match="bad record index for shard 2 of split 'train'"):
            read_all(record_dir)
        return
    with pytest.raises(tf.errors.InvalidArgumentError, match=f"{path}: read 10 of 11 records"):
        read_all(record_dir)


def test_hand_edited_schema_breaks_the_fingerprint(record_dir):
    manifest = json.loads((record_dir / MANIFEST_NAME).read_text())
    manifest["schema"]["image"]["spec"]["shape"] = [4, 16, 1]
    (record_dir / MANIFEST_NAME).write_text(json.dumps(manifest))
    with pytest.raises(RecordError, match="manifest.json: has a fingerprint that does not match"):
        read_all(record_dir)


def test_error_names_the_shard_in_graph_mode(record_dir):
    path = record_dir / SHARD
    flip_byte(path, path.stat().st_size // 2)
    with tf.Graph().as_default():
        batch = tf.compat.v1.data.make_one_shot_iterator(
            input_fn("train", 8, record_dir, n_epochs=1, shuffle=False)()
        ).get_next()
        with tf.compat.v1.Session() as session:
            with pytest.raises(
                tf.errors.InvalidArgumentError, match=changed_while_reading(record_dir, path)
            ):
                while True:
                    session.run(batch)


@pytest.mark.parametrize("compression", [None, "GZIP"])
def test_edited_record_index_fails_naming_the_shard(tmp_path, compression):
    """Lengths moved between two records (same count, same total): the framing check names it."""
    record_dir = tmp_path
    write_tiny_records(record_dir, compression=compression)
    manifest_path = record_dir / MANIFEST_NAME
    manifest = json.loads(manifest_path.read_text())
    shard = manifest["splits"]["train"]["shards"][1]
    lengths = record_index.decode_lengths(shard["record_lengths"], shard["records"])
    lengths[0] += 1
    lengths[1] -= 1
    shard["record_lengths"] = record_index.encode_lengths(lengths)
    manifest_path.write_text(json.dumps(manifest))
    path = record_dir / SHARD
    with pytest.raises(
        tf.errors.InvalidArgumentError,
        match=f"{path}: its framing does not match the record index in the manifest "
        "\\(shard 1 of split",
    ):
        read_all(record_dir)
