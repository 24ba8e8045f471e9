"""Our TFRecord framing is TensorFlow's, byte for byte, and TF reads our compressed shards."""

import numpy as np
import pytest
import tensorflow as tf

from reproml.records import atomic_write, tfrecord_io
from reproml.records.atomic_write import write_atomic


@pytest.fixture
def records():
    rng = np.random.default_rng(0)
    return [
        rng.integers(0, 256, size, dtype=np.uint8).tobytes() for size in (0, 1, 17, 300, 70_000)
    ]


def test_framing_is_byte_identical_to_tf_writer(tmp_path, records):
    path = tmp_path / "tf.tfrecord"
    with tf.io.TFRecordWriter(str(path)) as writer:
        for record in records:
            writer.write(record)
    assert tfrecord_io.frame_records(records) == path.read_bytes()


def test_fixed_length_fast_path_equals_list_path(records):
    rows = np.random.default_rng(1).integers(0, 256, (7, 33), dtype=np.uint8)
    assert tfrecord_io.frame_records(rows) == tfrecord_io.frame_records([r.tobytes() for r in rows])


@pytest.mark.parametrize("compression", [None, "GZIP", "ZLIB"])
def test_tf_reads_every_compression(tmp_path, records, compression):
    path = tmp_path / "shard.tfrecord"
    digest = write_atomic(
        path, tfrecord_io.compress(tfrecord_io.frame_records(records), compression)
    )
    read = [
        r.numpy() for r in tf.data.TFRecordDataset(str(path), compression_type=compression or "")
    ]
    assert read == records
    import hashlib

    assert digest == hashlib.sha256(path.read_bytes()).hexdigest()


def test_compressed_bytes_are_deterministic(records):
    data = tfrecord_io.frame_records(records)
    assert tfrecord_io.compress(data, "GZIP") == tfrecord_io.compress(data, "GZIP")


def test_unknown_compression_names_the_setting():
    with pytest.raises(ValueError, match="compression must be None, 'GZIP' or 'ZLIB', got 'LZ4'"):
        tfrecord_io.compress(b"x", "LZ4")


def test_atomic_write_leaves_no_temp_file_on_failure(tmp_path, monkeypatch):
    target = tmp_path / "shard.tfrecord"

    def boom(*_):
        raise OSError("disk full")

    monkeypatch.setattr(atomic_write.os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        write_atomic(target, b"data")
    assert list(tmp_path.iterdir()) == []
