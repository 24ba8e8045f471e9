"""Shared fixtures of the model tests: tiny real records (sklearn digits as 28x28x1 uint8)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.datasets import load_digits

from handlers.image import ImageArrayHandler
from handlers.label import ClassLabelHandler
from reproml.records.reader import input_fn
from reproml.records.writer import write_records

IMAGE_SHAPE = (28, 28, 1)
SPLIT_SIZES = {"train": 64, "eval": 32}

# What the digits records hold (`classifier_params_from_manifest` of them; checked in
# test_data_contract.py), so module-level params can name it.
DIGITS_DATA = {"image_shape": list(IMAGE_SHAPE), "num_classes": 10}

# Tiny networks: the tests check wiring and behaviour, not accuracy.
TINY_CLASSIFIER = {
    **DIGITS_DATA,
    "filters": [4, 4, 8],
    "kernel_sizes": [3, 3, 3],
    "dense_units": 16,
    "dropout": 0.25,
}
TINY_GAN = {
    "image_shape": list(IMAGE_SHAPE),
    "noise_dims": 8,
    "gen_dense_units": 16,
    "gen_channels": 8,
    "gen_filters": [4, 4],
    "critic_filters": [4, 8],
    "critic_steps": 2,
}


@pytest.fixture(autouse=True)
def _quiet_tf_layers():
    """Hide the `tf.layers.* is deprecated` warnings (pytest resets the package's filter)."""
    warnings.filterwarnings("ignore", message=r"`tf\.layers\.\w+` is deprecated")


@pytest.fixture(scope="session")
def digits_records(tmp_path_factory: pytest.TempPathFactory):
    """Write 64 train + 32 eval sklearn digits (8x8 in 0..16 -> 28x28x1 uint8) as records."""
    digits = load_digits()
    images, labels = digits.images, digits.target
    offsets = {"train": 0, "eval": SPLIT_SIZES["train"]}

    def rows(split: str):
        for i in range(offsets[split], offsets[split] + SPLIT_SIZES[split]):
            yield {"image": images[i], "label": int(labels[i])}

    record_dir = tmp_path_factory.mktemp("digits_records")
    write_records(
        record_dir,
        "{split}-{idx:05d}.tfrecord",
        {
            "image": ImageArrayHandler(shape=IMAGE_SHAPE, scale=(0, 16, 0, 255)),
            "label": ClassLabelHandler(num_classes=10),
        },
        samples_per_record=32,
        split_to_size=SPLIT_SIZES,
        rows_gen=rows,
        splits=("train", "eval"),
        num_workers=1,
        progress=False,
    )
    return record_dir


def write_image_records(
    record_dir,
    handlers: dict,
    rows_by_split: dict[str, list[dict]],
    samples_per_record: int = 16,
):
    """Write `rows_by_split` with `handlers` to `record_dir` (one split per key); return it."""
    write_records(
        record_dir,
        "{split}-{idx:05d}.tfrecord",
        handlers,
        samples_per_record=samples_per_record,
        split_to_size={split: len(rows) for split, rows in rows_by_split.items()},
        rows_gen=lambda split: iter(rows_by_split[split]),
        splits=tuple(rows_by_split),
        num_workers=1,
        progress=False,
    )
    return record_dir


def digit_rows(classes: int, per_split: dict[str, int]) -> dict[str, list[dict]]:
    """Rows {"image": 8x8 float digit in 0..16, "label": int} of the first `classes` digits."""
    digits = load_digits()
    keep = np.flatnonzero(digits.target < classes)
    rows, start = {}, 0
    for split, size in per_split.items():
        picked = keep[start : start + size]
        rows[split] = [{"image": digits.images[i], "label": int(digits.target[i])} for i in picked]
        start += size
    return rows


@pytest.fixture
def train_input(digits_records):
    """Shuffled, repeating train batches of 16 (seeded)."""
    return input_fn("train", 16, digits_records, random_seed=0)


@pytest.fixture
def eval_input(digits_records):
    """One pass over the 32 eval examples in batches of 16, in order."""
    return input_fn("eval", 16, digits_records, n_epochs=1)


def eval_arrays(record_dir) -> tuple[np.ndarray, np.ndarray]:
    """Return the eval split's (images uint8 [32, 28, 28, 1], labels int64 [32]) eagerly."""
    images, labels = [], []
    for features, label in input_fn("eval", 16, record_dir, n_epochs=1)():
        images.append(features["image"].numpy())
        labels.append(label.numpy())
    return np.concatenate(images), np.concatenate(labels)
