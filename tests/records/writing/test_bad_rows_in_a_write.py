"""Bad images, boxes, label sets and masks in a write: one error naming split, row and key; no output."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from handlers import BoxesHandler, EncodedImageHandler, MaskHandler, MultiLabelHandler
from reproml.errors import HandlerError
from reproml.records.writer import write_records

NAMES = ("banana", "fig")


def _png(array: np.ndarray) -> bytes:
    out = io.BytesIO()
    Image.fromarray(array).save(out, "PNG")
    return out.getvalue()


def _row() -> dict:
    return {
        "image": _png(np.zeros((6, 8, 3), np.uint8)),
        "objects": {"boxes": [[0.1, 0.1, 0.5, 0.5]], "labels": ["fig"]},
        "tags": ["banana"],
        "mask": np.zeros((6, 8), np.uint8),
    }


BOX = "expected boxes [ymin, xmin, ymax, xmax] with 0 <= ymin < ymax <= 1 and 0 <= xmin < xmax <= 1"


@pytest.mark.parametrize(
    ("split", "row", "key", "value", "message"),
    [
        (
            "train",
            3,
            "objects",
            {"boxes": [[0.1, 0.1, 0.5, 0.5], [0.2, 0.3, 0.4, 1.5]], "labels": [0, 1]},
            f"{BOX}, got box 1 [0.2, 0.3, 0.4, 1.5] (outside [0, 1])",
        ),
        (
            "eval",
            1,
            "objects",
            {"boxes": [[0.7, 0.1, 0.5, 0.5]], "labels": ["fig"]},
            f"{BOX}, got box 0 [0.7, 0.1, 0.5, 0.5] (ymin >= ymax)",
        ),
        (
            "train",
            0,
            "mask",
            np.zeros((6, 9), np.uint8),
            "expected a mask of its image's size 6x8 (HxW, ",
        ),
        (
            "train",
            4,
            "image",
            _png(np.zeros((6, 8, 3), np.uint8))[:-30],
            "expected a readable PNG or JPEG file (a path, or its bytes), got an unreadable file: ",
        ),
        (
            "eval",
            2,
            "tags",
            ["fig", "plum"],
            "expected one of ['banana', 'fig'] or an int in [0, 2), got label 1: unknown class "
            "name 'plum'",
        ),
    ],
)
def test_one_bad_value_stops_the_write_naming_split_row_and_key(
    tmp_path, split, row, key, value, message
):
    rows = {"train": [_row() for _ in range(5)], "eval": [_row() for _ in range(3)]}
    rows[split][row][key] = value
    image = EncodedImageHandler(size=(4, 4))
    with pytest.raises(HandlerError) as err:
        write_records(
            tmp_path / "records",
            "{split}-{idx:03d}.tfrecord",
            {
                "image": image,
                "objects": BoxesHandler(names=NAMES),
                "tags": MultiLabelHandler(names=NAMES),
                "mask": MaskHandler.for_image("image", image),
            },
            samples_per_record=2,
            split_to_size={"train": 5, "eval": 3},
            rows_gen=lambda s: rows[s],
            progress=False,
        )
    assert str(err.value).startswith(f"split {split!r}, row {row}, key {key!r}: {message}"), str(
        err.value
    )
    assert list((tmp_path / "records").iterdir()) == []
