"""The whole-shard reader (manifests with a record index) against the record-by-record reader.

The data is made here: RGB 6x5x3 images, 7 classes and variable-length names, so records
differ in length (the index is not one repeated length), in shards of 13, 13, 13 and 4.
Every comparison reads the same directory twice: as written (indexed), and with the manifest
rewritten as one from before the index (`without_record_index`), which the old reader reads.
"""

from __future__ import annotations

import json
import shutil
from types import SimpleNamespace

import numpy as np
import pytest
import tensorflow as tf

from handlers.image import ImageArrayHandler
from handlers.label import ClassLabelHandler
from handlers.raw import StringHandler
from reproml.records import record_index, whole_shards
from reproml.records.manifest import MANIFEST_NAME, load_manifest
from reproml.records.reader import _parser, dataset_from_records, input_fn
from reproml.records.verify import verify
from reproml.records.whole_shards import read_order
from reproml.records.writer import write_records
from reproml.runs.reproduce import read_order_problems
from tests.records.reading.rebatch_reference import rebatched
from tests.records.reading.tiny_records import without_record_index

N, PER_SHARD, SHAPE = 43, 13, (6, 5, 3)


def _rows() -> list[dict]:
    rng = np.random.default_rng(7)
    return [
        {
            "image": rng.integers(0, 256, size=SHAPE, dtype=np.uint8),
            "label": int(rng.integers(0, 7)),
            "name": f"{i}-" + "x" * int(rng.integers(0, 40)),  # unique, of varying length
        }
        for i in range(N)
    ]


@pytest.fixture(scope="module", params=[None, "GZIP"], ids=["plain", "gzip"])
def pair(request, tmp_path_factory):
    """(indexed dir, the same shards with an old manifest, rows), written once per module."""
    rows = _rows()
    new = tmp_path_factory.mktemp(f"rgb-{request.param}")
    write_records(
        new,
        "{split}-{idx:03d}.tfrecord",
        {
            "image": ImageArrayHandler(shape=SHAPE),
            "label": ClassLabelHandler(num_classes=7),
            "name": StringHandler(),
        },
        PER_SHARD,
        {"train": N},
        lambda split: rows,
        compression=request.param,
        splits=("train",),
        num_workers=0,
        progress=False,
    )
    old = tmp_path_factory.mktemp(f"rgb-{request.param}-old")
    shutil.copytree(new, old, dirs_exist_ok=True)
    without_record_index(old)
    return new, old, rows


def batches(dataset) -> list:
    return [tf.nest.map_structure(lambda t: t.numpy(), element) for element in dataset]


def assert_same(a: list, b: list) -> None:
    assert len(a) == len(b)
    for x, y in zip(a, b, strict=True):
        tf.nest.map_structure(np.testing.assert_array_equal, x, y)


def test_the_writer_stores_an_index_that_matches_every_shards_framing(pair):
    new, old, _ = pair
    manifest = load_manifest(new)
    for shard in manifest.splits["train"].shards:
        stored = (new / shard.file).read_bytes()
        assert (
            record_index.index_problem(
                stored, manifest.compression, shard.record_lengths, shard.records
            )
            is None
        )
        assert len(set(record_index.decode_lengths(shard.record_lengths, shard.records))) > 1
    assert load_manifest(old).splits["train"].shards[0].record_lengths is None
    assert load_manifest(old).fingerprint == manifest.fingerprint  # not part of the fingerprint


def test_unshuffled_input_fn_yields_the_written_order_like_the_old_reader(pair):
    """Read order 2 unshuffled: shard after shard, as written (order 1 agrees for small shards)."""
    new, old, rows = pair
    kwargs = dict(n_epochs=2, shuffle=False, feature_keys=("image", "name"))
    got = batches(input_fn("train", 8, new, **kwargs)())
    # Order 1 interleaves 128-record chunks of 8 shards: with shards of <= 128 records, the same.
    assert_same(got, batches(input_fn("train", 8, old, **kwargs)()))
    assert [len(labels) for _, labels in got] == [8] * 10 + [6]  # 86 = 2 x 43, rebatched
    np.testing.assert_array_equal(
        np.concatenate([labels for _, labels in got]), [r["label"] for r in rows] * 2
    )
    images = np.concatenate([features["image"] for features, _ in got])
    np.testing.assert_array_equal(images[:N], np.stack([r["image"] for r in rows]))
    dropped = batches(input_fn("train", 8, new, drop_remainder=True, **kwargs)())
    assert [len(labels) for _, labels in dropped] == [8] * 10


def _names(dataset) -> list[str]:
    return [n.decode() for features, _ in batches(dataset) for n in features["name"]]


def test_shuffled_input_fn_is_a_seeded_permutation_per_epoch(pair):
    """Read order 2 shuffled: each epoch a permutation of the split, the same for the same seed."""
    new, old, rows = pair
    names = sorted(r["name"] for r in rows)

    def read(directory, seed, **kwargs):
        return _names(
            input_fn("train", 8, directory, n_epochs=2, shuffle=True, random_seed=seed,
                     feature_keys=("name",), **kwargs)()
        )  # fmt: skip

    first = read(new, 3)
    assert first == read(new, 3)  # the same seed: the same order
    assert first != read(new, 4)
    assert sorted(first[:N]) == names and sorted(first[N:]) == names  # every example once per epoch
    assert first[:N] != first[N:]  # each epoch shuffled anew
    assert sorted(read(old, 3)[:N]) == names  # order 1 (old manifest): the same examples
    # Pools of whole shards holding >= shuffle_buffer records: with a buffer of 20 (two shards
    # of 13, or one of 13 and the last one of 4), the first 17 names come from two shards
    # only; with a buffer of 43, the first pool is the whole split.
    by_shard = {r["name"]: i // PER_SHARD for i, r in enumerate(rows)}
    assert len({by_shard[n] for n in read(new, 3, shuffle_buffer=20)[:17]}) <= 2
    assert len({by_shard[n] for n in read(new, 3, shuffle_buffer=N)[:16]}) > 2


@pytest.mark.parametrize("batch_size", [None, 5])
def test_dataset_from_records_reads_the_same_as_the_old_reader(pair, batch_size):
    """Shards of <= 128 records: order 1's interleave is the written order, like order 2's."""
    new, old, _ = pair
    assert_same(
        batches(dataset_from_records("train", new, batch_size=batch_size, num_parallel_reads=2)),
        batches(dataset_from_records("train", old, batch_size=batch_size, num_parallel_reads=2)),
    )


@pytest.mark.parametrize(
    ("batch_size", "shuffle", "shuffle_buffer", "seed", "drop_remainder"),
    [
        (8, False, 0, None, False),  # batches span shard boundaries (13 = 8 + 5)
        (8, False, 0, None, True),
        (13, False, 0, None, False),  # batches are the shards
        (30, False, 0, None, False),  # a batch spans three shards
        (1, False, 0, None, False),
        (None, False, 0, None, False),
        (8, True, 20, 3, False),  # pools of two shards, batches span pools and epochs
        (8, True, 20, 3, True),
        (5, True, 43, 11, False),  # one pool per epoch
        (30, True, 1, 0, False),  # pools of one shard, a batch spans three
        (None, True, 20, 3, False),
    ],
)
def test_order_2_batches_are_those_of_the_rebatching_reader(
    pair, batch_size, shuffle, shuffle_buffer, seed, drop_remainder
):
    """Read order 2 as it reads now is read order 2 as it was first built.

    The same seed gives the same examples in the same batches, over two epochs, as the
    first order-2 reader (`rebatch_reference`): changes to how batches are made (the specs
    passed in, images decoded per example) must not change the order.
    """
    new, _, _ = pair
    manifest = load_manifest(new)
    paths = manifest.shard_paths(new, "train")
    specs = manifest.specs(["image", "label", "name"])
    table = whole_shards.shard_table(manifest, paths, "train", range(len(paths)))
    kwargs = dict(batch_size=batch_size, shards_at_once=2, shuffle=shuffle, random_seed=seed,
                  n_epochs=2, drop_remainder=drop_remainder, shuffle_buffer=shuffle_buffer or 1)  # fmt: skip
    got = batches(whole_shards.batches(table, manifest.compression, specs, **kwargs))
    want = batches(rebatched(table, manifest.compression, _parser(specs, batched=True), **kwargs))
    assert_same(got, want)
    if batch_size is not None:
        sizes = [len(b["label"]) for b in got]
        full, rest = divmod(2 * N, batch_size)
        assert sizes == [batch_size] * full + ([rest] if rest and not drop_remainder else [])


def test_cluster_trainers_read_disjoint_shards_with_both_readers(pair):
    new, old, rows = pair
    seen = []
    for index in range(2):
        context = SimpleNamespace(num_input_pipelines=2, input_pipeline_id=index)
        made = [
            input_fn("train", 4, d, n_epochs=1, shuffle=False, feature_keys=("name",))(
                mode=tf.estimator.ModeKeys.TRAIN, input_context=context
            )
            for d in (new, old)
        ]
        mine = batches(made[0])
        assert_same(mine, batches(made[1]))
        seen.append([n.decode() for features, _ in mine for n in features["name"]])
    # Shards 0 and 2 (rows 0-12, 26-38) for trainer 0; shards 1 and 3 for trainer 1.
    names = [r["name"] for r in rows]
    assert sorted(seen[0]) == sorted(names[0:13] + names[26:39])
    assert sorted(seen[1]) == sorted(names[13:26] + names[39:])


def test_a_flipped_byte_fails_naming_the_shard_before_any_of_its_records(pair, tmp_path):
    new, _, _ = pair
    shutil.copytree(new, tmp_path, dirs_exist_ok=True)
    path = tmp_path / "train-002.tfrecord"
    data = bytearray(path.read_bytes())
    data[len(data) // 3] ^= 0x40
    path.write_bytes(bytes(data))
    with pytest.raises(tf.errors.InvalidArgumentError, match=f"{path}: has sha256 [0-9a-f]{{64}}"):
        batches(input_fn("train", 8, tmp_path, n_epochs=1, shuffle=False, verify="size")())


def test_verify_reports_an_index_that_does_not_match_its_shard(pair, tmp_path):
    new, _, _ = pair
    shutil.copytree(new, tmp_path, dirs_exist_ok=True)
    assert verify(tmp_path) == []
    manifest = json.loads((tmp_path / MANIFEST_NAME).read_text())
    shard = manifest["splits"]["train"]["shards"][3]
    lengths = record_index.decode_lengths(shard["record_lengths"], shard["records"])
    lengths[-1] += 2
    shard["record_lengths"] = record_index.encode_lengths(lengths)
    (tmp_path / MANIFEST_NAME).write_text(json.dumps(manifest))
    problems = [str(p) for p in verify(tmp_path)]
    assert problems == [
        f"{tmp_path / MANIFEST_NAME}: has a record index that does not match train-003.tfrecord "
        "(shard 3 of split 'train'): record_lengths does not match the framing: it lists 4 "
        "records, the file holds 4; they first differ at record 3. Re-serialize the data with "
        "the same write_records call to rewrite it"
    ]


@pytest.mark.parametrize(
    ("text", "records", "message"),
    [
        ("not base64!", 1, "not base64 of zlib data"),
        ("aGVsbG8=", 1, "not base64 of zlib data"),  # base64, not zlib
        (record_index.encode_lengths([5, 6]), 3, "lists 2 records but the shard entry lists 3"),
    ],
)
def test_bad_index_text_is_named(text, records, message):
    with pytest.raises(record_index.RecordIndexError, match=message):
        record_index.decode_lengths(text, records)


def test_index_of_fixed_length_records_stays_small():
    """A 70,000-example split of same-length records: a few dozen characters per shard."""
    text = record_index.encode_lengths(np.full(5_000, 812))
    assert len(text) < 100
    np.testing.assert_array_equal(record_index.decode_lengths(text, 5_000), np.full(5_000, 812))


def test_reproduce_compares_runs_read_in_the_same_order(pair):
    """A run records its read order; reproduce refuses records it would read in another."""
    new, old, _ = pair
    assert read_order(load_manifest(new)) == 2 and read_order(load_manifest(old)) == 1

    def run_read(directory, **entry):
        return SimpleNamespace(info={"records_read": [{"record_dir": str(directory), **entry}]})

    assert read_order_problems(run_read(new, read_order=2), str(new), load_manifest(new)) == []
    assert read_order_problems(run_read(old), str(old), load_manifest(old)) == []  # before order 2
    (problem,) = read_order_problems(run_read(new), str(new), load_manifest(new))
    assert problem.startswith(
        f"read order differs: the run read {new} in order 1, it would now be read in order 2"
    )
    (problem,) = read_order_problems(run_read(old, read_order=2), str(old), load_manifest(old))
    assert f"the run read {old} in order 2, it would now be read in order 1" in problem
