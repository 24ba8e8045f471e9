from __future__ import annotations

import gzip
import json

import numpy as np
import pytest

from reproml.errors import ConfigError, HandlerError
from reproml.records.manifest import MANIFEST_NAME, load_manifest
from reproml.records.writer import write_records
from tests.records.writing.conftest import NAMES, PATTERN, files_in, read_split


def write(record_dir, handlers, split_rows, sizes=None, **kwargs):
    sizes = sizes or {s: len(r) for s, r in split_rows.items()}
    kwargs.setdefault("num_workers", 0)
    kwargs.setdefault("progress", False)
    return write_records(
        record_dir,
        kwargs.pop("pattern", PATTERN),
        handlers,
        kwargs.pop("spr", 5),
        sizes,
        lambda split: iter(split_rows[split]),
        **kwargs,
    )


def test_counts_and_shard_layout_with_remainder(tmp_path, handlers, split_rows):
    manifest = write(tmp_path, handlers, split_rows)
    layout = {s: [sh.records for sh in info.shards] for s, info in manifest.splits.items()}
    assert layout == {"train": [5, 5, 5, 5, 3], "eval": [5, 2], "test": [5, 5]}
    assert {s: info.num_examples for s, info in manifest.splits.items()} == {
        "train": 23,
        "eval": 7,
        "test": 10,
    }
    assert manifest.splits["train"].shards[0].file == "train-000.tfrecord"
    assert manifest.splits["train"].shards[4].file == "train-004.tfrecord"
    expected = sorted(
        [f"train-{i:03d}.tfrecord" for i in range(5)]
        + [
            "eval-000.tfrecord",
            "eval-001.tfrecord",
            "test-000.tfrecord",
            "test-001.tfrecord",
            MANIFEST_NAME,
        ]
    )
    assert files_in(tmp_path) == expected
    for info in manifest.splits.values():
        for shard in info.shards:
            assert (tmp_path / shard.file).stat().st_size == shard.bytes


def test_rows_read_back_equal_and_in_order(tmp_path, handlers, split_rows):
    write(tmp_path, handlers, split_rows)
    for split, rows in split_rows.items():
        back = read_split(tmp_path, split)
        np.testing.assert_array_equal(back["image"], np.stack([r["image"] for r in rows]))
        np.testing.assert_array_equal(back["label"], [r["label"] for r in rows])
        np.testing.assert_allclose(back["xy"], np.stack([r["xy"] for r in rows]))
        assert back["image"].dtype == np.uint8 and back["label"].dtype == np.int64


def test_manifest_schema_histogram_source_fingerprint(tmp_path, handlers, split_rows):
    manifest = write(
        tmp_path,
        handlers,
        split_rows,
        keys_to_descriptions={"image": "4x4 noise"},
        source={"kind": "test", "seed": 0},
    )
    loaded = load_manifest(tmp_path)
    assert loaded.to_json() == manifest.to_json()
    assert loaded.schema["image"].description == "4x4 noise"
    assert loaded.schema["image"].handler == "tests.records.writing.handlers_for_tests.ArrayHandler"
    assert loaded.schema["label"].spec.names == NAMES
    # 23 train rows with label i % 3: 8 zeros, 8 ones, 7 twos; every class listed.
    assert loaded.splits["train"].label_histogram == {"label": {"zero": 8, "one": 8, "two": 7}}
    assert loaded.splits["eval"].label_histogram == {"label": {"zero": 3, "one": 2, "two": 2}}
    assert "xy" not in loaded.splits["train"].label_histogram
    assert loaded.source == {"kind": "test", "seed": 0}
    assert loaded.fingerprint == loaded.compute_fingerprint() and len(loaded.fingerprint) == 64


def test_skipped_and_missing_splits(tmp_path, handlers, split_rows):
    manifest = write(tmp_path, handlers, split_rows, sizes={"train": 6, "eval": 0})
    assert list(manifest.splits) == ["train"]
    assert [sh.records for sh in manifest.splits["train"].shards] == [5, 1]
    assert files_in(tmp_path) == [MANIFEST_NAME, "train-000.tfrecord", "train-001.tfrecord"]


@pytest.mark.parametrize("compression", [None, "GZIP", "ZLIB"])
def test_every_compression_reads_back_and_is_deterministic(
    tmp_path, handlers, split_rows, compression
):
    first = write(tmp_path / "a", handlers, split_rows, compression=compression)
    second = write(tmp_path / "b", handlers, split_rows, compression=compression)
    assert first.compression == compression
    for shard in first.splits["train"].shards:
        assert (tmp_path / "a" / shard.file).read_bytes() == (
            tmp_path / "b" / shard.file
        ).read_bytes()
    assert first.fingerprint == second.fingerprint
    back = read_split(tmp_path / "a", "eval")
    np.testing.assert_array_equal(back["label"], [r["label"] for r in split_rows["eval"]])


def test_compressions_give_different_files_and_fingerprints(tmp_path, handlers, split_rows):
    prints = {
        c: write(tmp_path / str(c), handlers, split_rows, compression=c).fingerprint
        for c in (None, "GZIP", "ZLIB")
    }
    assert len(set(prints.values())) == 3
    raw = (tmp_path / "None" / "train-000.tfrecord").read_bytes()
    assert (tmp_path / "GZIP" / "train-000.tfrecord").read_bytes()[:2] == b"\x1f\x8b"
    assert (tmp_path / "ZLIB" / "train-000.tfrecord").read_bytes()[:1] == b"\x78"
    assert raw[:2] not in (b"\x1f\x8b",)


def test_rewrite_replaces_earlier_write_and_removes_its_extra_shards(
    tmp_path, handlers, split_rows
):
    write(tmp_path, handlers, split_rows)
    manifest = write(tmp_path, handlers, split_rows, sizes={"train": 12})
    assert files_in(tmp_path) == [MANIFEST_NAME] + [f"train-00{i}.tfrecord" for i in range(3)]
    assert load_manifest(tmp_path).fingerprint == manifest.fingerprint


@pytest.mark.parametrize(
    ("kwargs", "entry"),
    [
        ({"pattern": "shard-{idx}.tfrecord"}, "record_pattern"),
        ({"pattern": "{split}.tfrecord"}, "record_pattern"),
        ({"pattern": "{split}/{idx}.tfrecord"}, "record_pattern"),
        ({"pattern": "{split}-{idx}-{other}.tfrecord"}, "record_pattern"),
        ({"pattern": "{split}-{idx:.0s}.tfrecord"}, "record_pattern"),
        ({"compression": "ZIP"}, "compression"),
        ({"compression": "gzip"}, "compression"),
        ({"spr": 0}, "samples_per_record"),
        ({"sizes": {"valid": 3}}, "split_to_size"),
        ({"sizes": {"train": -1}}, "split_to_size['train']"),
        ({"num_workers": -2}, "num_workers"),
        ({"source": {"bad": object()}}, "source"),
        ({"keys_to_descriptions": {"imgae": "typo"}}, "keys_to_descriptions"),
    ],
)
def test_bad_settings_name_the_entry_and_write_nothing(
    tmp_path, handlers, split_rows, kwargs, entry
):
    with pytest.raises(ConfigError) as info:
        write(tmp_path / "out", handlers, split_rows, **kwargs)
    assert info.value.entry == entry
    assert repr(entry) in str(info.value) or entry in str(info.value)
    assert not (tmp_path / "out").exists() or files_in(tmp_path / "out") == []


def test_fewer_rows_than_promised_names_split_and_counts(tmp_path, handlers, split_rows):
    with pytest.raises(ConfigError, match=r"split_to_size\['eval'\].*expected 9 rows.*only 7"):
        write(tmp_path, handlers, split_rows, sizes={"train": 23, "eval": 9})
    assert files_in(tmp_path) == []


def test_empty_split_with_size_is_an_error(tmp_path, handlers, split_rows):
    rows = dict(split_rows, test=[])
    with pytest.raises(ConfigError, match=r"split_to_size\['test'\].*expected 4 rows.*only 0"):
        write(tmp_path, handlers, rows, sizes={"train": 3, "test": 4})
    assert files_in(tmp_path) == []


def test_more_rows_than_asked_takes_the_first_ones(tmp_path, handlers, split_rows):
    write(tmp_path, handlers, split_rows, sizes={"train": 4})
    back = read_split(tmp_path, "train")
    np.testing.assert_array_equal(
        back["image"], np.stack([r["image"] for r in split_rows["train"][:4]])
    )


def test_bad_row_names_split_row_key_and_leaves_nothing(tmp_path, handlers, split_rows):
    split_rows["eval"][6]["image"] = np.zeros((4, 5, 1), np.uint8)  # the last eval shard
    with pytest.raises(HandlerError) as info:
        write(tmp_path, handlers, split_rows)
    err = info.value
    assert (err.split, err.row, err.key) == ("eval", 6, "image")
    assert (
        str(err)
        == "split 'eval', row 6, key 'image': expected shape (4, 4, 1), got shape (4, 5, 1)"
    )
    assert files_in(tmp_path) == []  # train shards were staged, then removed; no temp files


def test_bad_row_keeps_earlier_write_intact(tmp_path, handlers, split_rows):
    earlier = write(tmp_path, handlers, split_rows)
    before = {f: (tmp_path / f).read_bytes() for f in files_in(tmp_path)}
    bad = {s: [dict(r) for r in rows] for s, rows in split_rows.items()}
    for r in bad["train"]:
        r["image"] = r["image"] // 2  # different bytes for every shard
    bad["test"][3]["label"] = "seven"
    with pytest.raises(HandlerError, match=r"split 'test', row 3, key 'label'"):
        write(tmp_path, handlers, bad)
    assert {f: (tmp_path / f).read_bytes() for f in files_in(tmp_path)} == before
    assert load_manifest(tmp_path).fingerprint == earlier.fingerprint


def test_label_out_of_range_is_a_handler_error(tmp_path, handlers, split_rows):
    split_rows["train"][2]["label"] = 3
    with pytest.raises(
        HandlerError,
        match=r"split 'train', row 2, key 'label': expected one class "
        r"index in \[0, 3\), got 3",
    ):
        write(tmp_path, handlers, split_rows)
    assert files_in(tmp_path) == []


def test_rows_gen_exception_propagates_and_cleans_up(tmp_path, handlers, split_rows):
    def rows_gen(split):
        yield from split_rows[split][:7]
        raise OSError("disk went away")

    with pytest.raises(OSError, match="disk went away"):
        write_records(
            tmp_path, PATTERN, handlers, 5, {"train": 10}, rows_gen, num_workers=0, progress=False
        )
    assert files_in(tmp_path) == []


def test_manifest_json_is_plain_json_with_the_documented_keys(tmp_path, handlers, split_rows):
    write(tmp_path, handlers, split_rows, compression="GZIP")
    data = json.loads((tmp_path / MANIFEST_NAME).read_text())
    assert list(data) == [
        "format_version",
        "record_pattern",
        "compression",
        "samples_per_record",
        "schema",
        "splits",
        "source",
        "fingerprint",
    ]
    assert data["compression"] == "GZIP" and data["samples_per_record"] == 5
    assert list(data["splits"]) == ["train", "eval", "test"]


def test_shards_equal_what_tf_record_writer_writes(tmp_path, handlers, split_rows):
    import tensorflow as tf

    manifest = write(tmp_path, handlers, split_rows, compression="GZIP")
    rows = split_rows["train"][:5]
    with tf.io.TFRecordWriter(str(tmp_path / "tf.gz"), options="GZIP") as writer:
        for row in rows:
            features = {}
            for key in sorted(handlers):
                features.update(handlers[key].handle(row, key))
            example = tf.train.Example(features=tf.train.Features(feature=features))
            writer.write(example.SerializeToString(deterministic=True))
    first = tmp_path / manifest.splits["train"].shards[0].file
    # The same record stream; the deflate bytes differ (zlib-ng vs TF's zlib, same format).
    assert gzip.decompress(first.read_bytes()) == gzip.decompress((tmp_path / "tf.gz").read_bytes())
