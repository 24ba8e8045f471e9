"""dataset_from_records: what is read back is what write_records wrote."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from reproml.errors import ConfigError, RecordError
from reproml.records.reader import dataset_from_records
from tests.records.reading.tiny_records import SPLIT_SIZES

EXPECTED = {  # key -> (dtype, shape of one example)
    "image": (tf.uint8, (8, 8, 1)),
    "label": (tf.int64, ()),
    "value": (tf.float32, (3,)),
    "index": (tf.int64, ()),
    "name": (tf.string, ()),
}


def assert_rows_equal(got: dict, row: dict) -> None:
    np.testing.assert_array_equal(got["image"], row["image"])
    assert got["label"] == row["label"]
    np.testing.assert_array_equal(got["value"], row["value"])
    assert got["index"] == row["index"]
    assert got["name"] == row["name"].encode("utf-8")


@pytest.mark.parametrize("fixture", ["records", "gzip_records"])
@pytest.mark.parametrize("split", ["train", "test"])
def test_unbatched_read_equals_written_in_order(request, fixture, split):
    record_dir, rows = request.getfixturevalue(fixture)
    dataset = dataset_from_records(split, record_dir)
    assert {k: (s.dtype, tuple(s.shape)) for k, s in dataset.element_spec.items()} == EXPECTED
    got = list(dataset.as_numpy_iterator())
    assert len(got) == SPLIT_SIZES[split]
    # Shards of 10 records, interleaved in chunks of 128: the order is the written order.
    for example, row in zip(got, rows[split], strict=True):
        assert example["image"].dtype == np.uint8 and example["image"].shape == (8, 8, 1)
        assert example["value"].dtype == np.float32
        assert_rows_equal(example, row)


def test_batched_read_equals_written(records):
    record_dir, rows = records
    dataset = dataset_from_records("train", record_dir, batch_size=8)
    spec = dataset.element_spec
    assert spec["image"].shape.as_list() == [None, 8, 8, 1]
    assert spec["value"].shape.as_list() == [None, 3]
    batches = list(dataset.as_numpy_iterator())
    assert [len(b["index"]) for b in batches] == [8, 8, 8, 8, 5]
    flat = {k: np.concatenate([b[k] for b in batches]) for k in EXPECTED}
    for i, row in enumerate(rows["train"]):
        assert_rows_equal({k: v[i] for k, v in flat.items()}, row)


def test_keys_selects_features(records):
    record_dir, rows = records
    dataset = dataset_from_records("test", record_dir, keys=["label"], batch_size=4)
    labels = np.concatenate([b["label"] for b in dataset.as_numpy_iterator()])
    assert set(dataset.element_spec) == {"label"}
    np.testing.assert_array_equal(labels, [r["label"] for r in rows["test"]])


def test_parallel_reads_and_nondeterministic_read_every_row(records):
    record_dir, rows = records
    for kwargs in ({"num_parallel_reads": 1}, {"num_parallel_reads": 3, "deterministic": False}):
        got = dataset_from_records("train", record_dir, keys=["index"], **kwargs)
        assert sorted(int(x["index"]) for x in got) == list(range(SPLIT_SIZES["train"]))


def test_decodes_inside_tf_function(records):
    record_dir, rows = records
    dataset = dataset_from_records("test", record_dir, keys=["image", "label"], batch_size=12)

    @tf.function
    def total(ds):
        out = tf.constant(0, tf.int64)
        for batch in ds:
            out += tf.reduce_sum(tf.cast(batch["image"], tf.int64)) + tf.reduce_sum(batch["label"])
        return out

    expected = sum(int(r["image"].astype(np.int64).sum()) + r["label"] for r in rows["test"])
    assert int(total(dataset)) == expected


@pytest.mark.parametrize(
    "kwargs, entry",
    [
        ({"keys": ["image", "pixels"]}, "keys"),
        ({"batch_size": 0}, "batch_size"),
        ({"verify": "md5"}, "verify"),
        ({"num_parallel_reads": 0}, "num_parallel_reads"),
    ],
)
def test_bad_arguments_name_the_entry(records, kwargs, entry):
    record_dir, _ = records
    with pytest.raises(ConfigError, match=f"config entry '{entry}'"):
        dataset_from_records("train", record_dir, **kwargs)


def test_unknown_split_and_missing_manifest(records, tmp_path):
    record_dir, _ = records
    with pytest.raises(RecordError, match=r"manifest.json: has no split 'eval' \(it has"):
        dataset_from_records("eval", record_dir)
    with pytest.raises(RecordError, match="no manifest here. Serialize the data first"):
        dataset_from_records("train", tmp_path)
