from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from reproml.records.manifest import load_manifest
from reproml.records.spec import decode_example, parse_spec
from tests.records.writing.handlers_for_tests import ArrayHandler, ClassLabelHandler, FloatHandler

NAMES = ("zero", "one", "two")
PATTERN = "{split}-{idx:03d}.tfrecord"


def make_rows(n: int, seed: int) -> list[dict]:
    """Rows of a tiny dataset: a 4x4x1 uint8 image, a class label, a float pair."""
    rng = np.random.default_rng(seed)
    return [
        {
            "image": rng.integers(0, 256, size=(4, 4, 1), dtype=np.uint8),
            "label": int(i % 3),
            "xy": rng.normal(size=2).astype(np.float32),
        }
        for i in range(n)
    ]


@pytest.fixture
def split_rows() -> dict[str, list[dict]]:
    return {"train": make_rows(23, 0), "eval": make_rows(7, 1), "test": make_rows(10, 2)}


@pytest.fixture
def handlers() -> dict:
    return {
        "image": ArrayHandler((4, 4, 1)),
        "label": ClassLabelHandler(NAMES),
        "xy": FloatHandler(shape=(2,)),
    }


def read_split(record_dir, split: str) -> dict[str, np.ndarray]:
    """Reads a split back with tf.data and the manifest's FeatureSpecs (batched parse)."""
    manifest = load_manifest(record_dir)
    specs = manifest.specs()
    files = [str(p) for p in manifest.shard_paths(record_dir, split)]
    ds = tf.data.TFRecordDataset(files, compression_type=manifest.compression or "")
    ds = ds.batch(1000).map(
        lambda b: decode_example(specs, tf.io.parse_example(b, parse_spec(specs)))
    )
    batches = list(ds.as_numpy_iterator())
    return {k: np.concatenate([b[k] for b in batches]) for k in specs}


def files_in(record_dir) -> list[str]:
    return sorted(p.name for p in record_dir.iterdir())
