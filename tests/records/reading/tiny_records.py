"""A tiny record directory written through `write_records`, shared by the input and fault tests."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from handlers.image import ImageArrayHandler
from handlers.label import ClassLabelHandler
from handlers.numeric import NumericHandler
from handlers.raw import StringHandler
from reproml.records.manifest import MANIFEST_NAME, Manifest
from reproml.records.writer import write_records

SPLIT_SIZES = {"train": 37, "test": 12}
SAMPLES_PER_RECORD = 10  # train: shards of 10, 10, 10, 7 records; test: 10, 2
NAMES = tuple(str(i) for i in range(10))
PATTERN = "{split}-{idx:05d}.tfrecord"


def make_rows(split: str) -> list[dict]:
    """Rows of a split: random 8x8x1 uint8 images, labels, float vectors, indices and names."""
    rng = np.random.default_rng(0 if split == "train" else 1)
    return [
        {
            "image": rng.integers(0, 256, size=(8, 8, 1), dtype=np.uint8),
            "label": int(rng.integers(0, 10)),
            "value": rng.normal(size=3).astype(np.float32),
            "index": i,
            "name": f"{split}-{i}",
        }
        for i in range(SPLIT_SIZES[split])
    ]


def write_tiny_records(
    record_dir: Path, compression: str | None = None
) -> tuple[Manifest, dict[str, list[dict]]]:
    """Write the tiny dataset to `record_dir`; return its manifest and the rows written."""
    rows = {split: make_rows(split) for split in SPLIT_SIZES}
    manifest = write_records(
        record_dir,
        PATTERN,
        {
            "image": ImageArrayHandler(shape=(8, 8, 1)),
            "label": ClassLabelHandler(names=NAMES),
            "value": NumericHandler(shape=(3,), dtype="float32"),
            "index": NumericHandler(shape=(), dtype="int64"),
            "name": StringHandler(),
        },
        SAMPLES_PER_RECORD,
        SPLIT_SIZES,
        lambda split: rows[split],
        compression=compression,
        num_workers=0,
        source={"name": "tiny-test-rows"},
        splits=tuple(SPLIT_SIZES),
        progress=False,
    )
    return manifest, rows


def without_record_index(record_dir: Path) -> None:
    """Rewrite `record_dir`'s manifest as one written before the record index existed."""
    path = record_dir / MANIFEST_NAME
    manifest = json.loads(path.read_text())
    for split in manifest["splits"].values():
        for shard in split["shards"]:
            del shard["record_lengths"]
    path.write_text(json.dumps(manifest, indent=2))
