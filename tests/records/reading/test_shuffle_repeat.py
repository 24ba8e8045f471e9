"""Seeded shuffling is reproducible, epochs repeat, arguments are checked."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from reproml.errors import ConfigError
from reproml.records.reader import dataset_from_records, input_fn, shuffle_repeat_prefetch
from tests.records.reading.tiny_records import SPLIT_SIZES

N_TRAIN = SPLIT_SIZES["train"]


def indices(dataset: tf.data.Dataset) -> list[int]:
    return [int(x["index"]) for x in dataset]


def shuffled(record_dir, seed, n_epochs=1):
    dataset = dataset_from_records("train", record_dir, keys=["index"])
    return indices(shuffle_repeat_prefetch(dataset, 100, n_epochs=n_epochs, random_seed=seed))


def test_same_seed_same_order_other_seed_other_order(records):
    record_dir, _ = records
    first, again, other = shuffled(record_dir, 7), shuffled(record_dir, 7), shuffled(record_dir, 8)
    assert first == again
    assert other != first
    assert sorted(first) == sorted(other) == list(range(N_TRAIN))
    assert first != list(range(N_TRAIN))


def test_n_epochs_repeats_and_reshuffles_each_epoch(records):
    record_dir, _ = records
    order = shuffled(record_dir, 3, n_epochs=2)
    assert len(order) == 2 * N_TRAIN
    first, second = order[:N_TRAIN], order[N_TRAIN:]
    assert sorted(first) == sorted(second) == list(range(N_TRAIN))
    assert first != second


def test_n_epochs_none_repeats_forever(records):
    record_dir, _ = records
    dataset = dataset_from_records("test", record_dir, keys=["index"])
    forever = shuffle_repeat_prefetch(dataset, 4, n_epochs=None, random_seed=0)
    assert forever.cardinality() == tf.data.INFINITE_CARDINALITY
    taken = indices(forever.take(5 * SPLIT_SIZES["test"]))
    assert np.bincount(taken).tolist() == [5] * SPLIT_SIZES["test"]


@pytest.mark.parametrize(
    "kwargs, entry",
    [({"buffer_size": 0}, "buffer_size"), ({"buffer_size": 4, "n_epochs": 0}, "n_epochs")],
)
def test_bad_arguments(records, kwargs, entry):
    record_dir, _ = records
    dataset = dataset_from_records("test", record_dir, keys=["index"])
    with pytest.raises(ConfigError, match=f"'{entry}'"):
        shuffle_repeat_prefetch(dataset, **kwargs)


def input_fn_labels(record_dir, split, **kwargs) -> list[int]:
    fn = input_fn(split, 8, record_dir, n_epochs=1, feature_keys=("index",), **kwargs)
    return [int(i) for features, _ in fn() for i in features["index"]]


def test_input_fn_seeded_shuffle_is_reproducible(records):
    record_dir, _ = records
    first = input_fn_labels(record_dir, "train", random_seed=5)
    assert first == input_fn_labels(record_dir, "train", random_seed=5)
    assert first != input_fn_labels(record_dir, "train", random_seed=6)
    assert sorted(first) == list(range(N_TRAIN)) and first != list(range(N_TRAIN))


def test_input_fn_shuffles_train_only_by_default(records):
    record_dir, _ = records
    assert input_fn_labels(record_dir, "test") == list(range(SPLIT_SIZES["test"]))
    assert input_fn_labels(record_dir, "train", shuffle=False) == list(range(N_TRAIN))
    assert input_fn_labels(record_dir, "test", shuffle=True, random_seed=1) != list(
        range(SPLIT_SIZES["test"])
    )
