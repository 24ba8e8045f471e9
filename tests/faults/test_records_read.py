"""Reading damaged record directories: every error names the file and says how to fix it.

What TensorFlow itself does (measured with TF 2.15.1): a truncated shard is read as a shorter
one without any error, and a flipped byte gives ``DataLossError: corrupted record at <offset>``
(GZIP: ``inflate() failed``) without the file name. reproml checks sizes (or hashes) before
reading and counts every shard while reading, so both end in errors that name the shard.
"""

from __future__ import annotations

import json

import pytest
import tensorflow as tf

from reproml.errors import RecordError
from reproml.records.manifest import MANIFEST_NAME
from reproml.records.reader import dataset_from_records, input_fn
from tests.inputs.tiny_records import write_tiny_records

FIX = "Re-serialize the data (write_records), or restore the file from a copy"
SHARD = "train-00001.tfrecord"


@pytest.fixture(params=[None, "GZIP"], ids=["plain", "gzip"])
def record_dir(request, tmp_path):
    write_tiny_records(tmp_path, compression=request.param)
    return tmp_path


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
    # Same size, so verify="size" passes; the reader's DataLossError becomes one naming the file.
    with pytest.raises(tf.errors.InvalidArgumentError, match=f"{path}: read [0-9] of 10 records"):
        read_all(record_dir, verify="size")


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
    with pytest.raises(tf.errors.InvalidArgumentError, match=f"{path}: read [0-9] of 10 records"):
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
    with pytest.raises(tf.errors.InvalidArgumentError, match=f"{path}: read 7 of 10 records"):
        read_all(record_dir, verify=None)


def test_manifest_record_count_that_does_not_match(record_dir):
    manifest = json.loads((record_dir / MANIFEST_NAME).read_text())
    manifest["splits"]["train"]["shards"][2]["records"] = 11
    (record_dir / MANIFEST_NAME).write_text(json.dumps(manifest))
    path = record_dir / "train-00002.tfrecord"
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
            with pytest.raises(tf.errors.InvalidArgumentError, match=f"{path}: read"):
                while True:
                    session.run(batch)
