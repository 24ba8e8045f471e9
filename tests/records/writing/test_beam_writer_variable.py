"""WriteRecords writes encoded images, boxes, label sets, masks and sequences as write_records does."""

from __future__ import annotations

import io

import apache_beam as beam
import numpy as np
from apache_beam.options.pipeline_options import PipelineOptions
from PIL import Image

from handlers import (
    BoxesHandler,
    EncodedImageHandler,
    MaskHandler,
    MultiLabelHandler,
    SequenceHandler,
)
from reproml.records.beam_writer import WriteRecords
from reproml.records.manifest import load_manifest
from reproml.records.writer import write_records

PATTERN = "{split}-{idx:03d}.tfrecord"
NAMES = ("banana", "fig")


def _rows() -> list[dict]:
    rng = np.random.default_rng(1)
    rows = []
    for i in range(11):
        h, w = 5 + i % 4, 6 + i % 3
        out = io.BytesIO()
        Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(out, "PNG")
        rows.append(
            {
                "image": out.getvalue(),
                "objects": {"boxes": [[0.1, 0.2, 0.5, 0.9]] * (i % 3), "labels": ["fig"] * (i % 3)},
                "tags": NAMES[: i % 3],
                "mask": np.full((h, w), i % 3, np.uint8),
                "tokens": ["w"] * (i % 4),
            }
        )
    return rows


def _handlers() -> dict:
    image = EncodedImageHandler(size=(6, 6))
    return {
        "image": image,
        "objects": BoxesHandler(names=NAMES),
        "tags": MultiLabelHandler(names=NAMES),
        "mask": MaskHandler.for_image("image", image),
        "tokens": SequenceHandler("string"),
    }


def test_beam_and_local_write_the_same_bytes(tmp_path):
    rows = _rows()
    local = write_records(
        tmp_path / "local",
        PATTERN,
        _handlers(),
        4,
        {"train": len(rows)},
        lambda split: iter(rows),
        splits=("train",),
        progress=False,
    )
    options = PipelineOptions(runner="DirectRunner", direct_running_mode="in_memory")
    with beam.Pipeline(options=options) as p:
        _ = (
            p
            | beam.Create([("train", i, row) for i, row in enumerate(rows)])
            | WriteRecords(tmp_path / "beam", PATTERN, _handlers(), 4, splits=("train",))
        )
    beam_files = {p.name: p.read_bytes() for p in sorted((tmp_path / "beam").iterdir())}
    local_files = {p.name: p.read_bytes() for p in sorted((tmp_path / "local").iterdir())}
    assert beam_files == local_files
    assert load_manifest(tmp_path / "beam").fingerprint == local.fingerprint
    assert sorted(local.schema) == [
        "image",
        "image/channels",
        "image/height",
        "image/sha256",
        "image/width",
        "mask",
        "objects",
        "objects/label",
        "tags",
        "tokens",
    ]
