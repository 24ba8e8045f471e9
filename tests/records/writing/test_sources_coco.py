"""COCO source: images, boxes, labels and instance masks written and read back exactly."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest
from PIL import Image
from pycocotools import mask as coco_mask

from handlers import BoxesHandler, EncodedImageHandler, MaskHandler, MultiLabelHandler
from reproml.errors import HandlerError, RecordError
from reproml.records.reader import dataset_from_records
from reproml.records.sources_coco import rows_from_coco
from reproml.records.writer import write_records
from tests.handlers.test_encoded_image import _crop_or_pad

NAMES = ("banana", "kiwi", "fig")  # category ids 1, 3, 7


def _rle_counts(mask: np.ndarray) -> list[int]:
    """Uncompressed COCO RLE by hand: run lengths of the column-major pixels, starting with 0s."""
    flat = mask.flatten(order="F")
    counts, value, run = [], 0, 0
    for pixel in flat:
        if pixel == value:
            run += 1
        else:
            counts.append(run)
            value, run = pixel, 1
    return [*counts, run]


def _fig_mask() -> np.ndarray:
    mask = np.zeros((20, 30), np.uint8)
    mask[5:15, 15:25] = 1
    mask[8:10, 18:20] = 0  # a hole
    return mask


def _kiwi_mask() -> np.ndarray:
    mask = np.zeros((16, 12), np.uint8)
    mask[9:15, 2:8] = 1
    return mask


@pytest.fixture(scope="module")
def coco(tmp_path_factory):
    folder = tmp_path_factory.mktemp("coco")
    rng = np.random.default_rng(5)
    Image.fromarray(rng.integers(0, 256, (20, 30, 3), dtype=np.uint8)).save(folder / "a.png")
    Image.fromarray(rng.integers(0, 256, (16, 12), dtype=np.uint8)).save(folder / "b.png")
    Image.fromarray(rng.integers(0, 256, (8, 8, 4), dtype=np.uint8)).save(folder / "c.png")
    kiwi_rle = coco_mask.encode(np.asfortranarray(_kiwi_mask()))
    data = {
        "images": [
            {"id": 12, "file_name": "c.png", "height": 8, "width": 8},
            {"id": 10, "file_name": "a.png", "height": 20, "width": 30},
            {"id": 11, "file_name": "b.png", "height": 16, "width": 12},
        ],
        "categories": [
            {"id": 7, "name": "fig"},
            {"id": 1, "name": "banana"},
            {"id": 3, "name": "kiwi"},
        ],
        "annotations": [
            {
                "id": 1,
                "image_id": 10,
                "category_id": 1,
                "bbox": [3, 2, 10, 8],
                "segmentation": [[3, 2, 13, 2, 13, 10, 3, 10]],
                "iscrowd": 0,
            },
            {
                "id": 2,
                "image_id": 10,
                "category_id": 7,
                "bbox": [15, 5, 10, 10],
                "segmentation": {"size": [20, 30], "counts": _rle_counts(_fig_mask())},
                "iscrowd": 0,
            },
            {
                "id": 3,
                "image_id": 11,
                "category_id": 3,
                "bbox": [2, 9, 6, 6],
                "segmentation": {"size": [16, 12], "counts": kiwi_rle["counts"].decode()},
            },
            {
                "id": 4,
                "image_id": 11,
                "category_id": 1,
                "bbox": [0, 0, 12, 16],
                "segmentation": {"size": [16, 12], "counts": [0, 192]},
                "iscrowd": 1,
            },
            {  # overhangs the right edge by 0.5 px: clipped
                "id": 5,
                "image_id": 11,
                "category_id": 7,
                "bbox": [6, 0, 6.5, 4],
                "segmentation": [[6, 0, 12, 0, 12, 4, 6, 4]],
            },
        ],
    }
    (folder / "train.json").write_text(json.dumps(data))
    return folder, data


def test_coco_rows(coco):
    folder, _data = coco
    src = rows_from_coco({"train": (folder / "train.json", folder)})
    assert src.category_names == NAMES
    assert src.split_to_size == {"train": 3}
    split = src.source["splits"]["train"]
    assert split["sha256"] == hashlib.sha256((folder / "train.json").read_bytes()).hexdigest()
    assert (split["images"], split["annotations"], split["crowd_skipped"]) == (3, 4, 1)
    rows = list(src.rows_gen("train"))
    assert [r["image_id"] for r in rows] == [10, 11, 12]
    a, b, c = rows
    np.testing.assert_allclose(
        a["objects"]["boxes"],
        [[2 / 20, 3 / 30, 10 / 20, 13 / 30], [5 / 20, 15 / 30, 15 / 20, 25 / 30]],
    )
    assert a["objects"]["labels"] == ["banana", "fig"] and a["labels"] == ["banana", "fig"]
    np.testing.assert_allclose(
        b["objects"]["boxes"], [[9 / 16, 2 / 12, 15 / 16, 8 / 12], [0, 0.5, 0.25, 1]]
    )
    assert b["objects"]["labels"] == ["kiwi", "fig"] and b["labels"] == ["fig", "kiwi"]
    assert c["objects"] == {"boxes": [], "labels": []} and c["labels"] == []
    # RLE masks (uncompressed and compressed) exactly; instance ids 1..n in box order.
    np.testing.assert_array_equal(a["mask"] == 2, _fig_mask().astype(bool))
    np.testing.assert_array_equal(b["mask"] == 1, _kiwi_mask().astype(bool))
    # Polygons rasterized by pycocotools: inside their box, about the box's area.
    banana = a["mask"] == 1
    assert not banana[:, 14:].any() and not banana[11:].any()
    assert banana[3:9, 4:12].all() and 60 <= banana.sum() <= 100
    assert (b["mask"] == 2).sum() > 0 and not (b["mask"] == 2)[5:].any()
    np.testing.assert_array_equal(c["mask"], np.zeros((8, 8), np.uint8))


def test_coco_written_and_read_back_exactly(coco, tmp_path):
    folder, _data = coco
    src = rows_from_coco({"train": (folder / "train.json", folder)})
    rows = list(src.rows_gen("train"))
    image = EncodedImageHandler(size=(20, 30), size_policy="crop_or_pad")
    handlers = {
        "image": image,
        "objects": BoxesHandler(names=src.category_names),
        "labels": MultiLabelHandler(names=src.category_names),
        "mask": MaskHandler.for_image("image", image),
    }
    manifest = write_records(
        tmp_path / "records",
        "{split}-{idx:03d}.tfrecord",
        handlers,
        samples_per_record=2,
        split_to_size=src.split_to_size,
        rows_gen=src.rows_gen,
        source=src.source,
        progress=False,
    )
    assert manifest.schema["objects/label"].spec.names == NAMES
    assert manifest.source["splits"]["train"]["sha256"] == src.source["splits"]["train"]["sha256"]
    for batch_size in (None, 2):
        dataset = dataset_from_records("train", tmp_path / "records", batch_size=batch_size)
        if batch_size is None:
            got = [{k: v.numpy() for k, v in ex.items()} for ex in dataset]
        else:
            got = [
                {k: v[i].numpy() for k, v in batch.items()}
                for batch in dataset
                for i in range(int(batch["image"].shape[0]))
            ]
        assert len(got) == 3
        for example, row in zip(got, rows, strict=True):
            with Image.open(row["image"]) as pil:
                pixels = np.array(pil.convert("RGB"))
            np.testing.assert_array_equal(example["image"], _crop_or_pad(pixels, 20, 30))
            np.testing.assert_array_equal(
                example["objects"], np.array(row["objects"]["boxes"], np.float32).reshape(-1, 4)
            )
            ids = [NAMES.index(n) for n in row["objects"]["labels"]]
            np.testing.assert_array_equal(example["objects/label"], np.array(ids, np.int64))
            np.testing.assert_array_equal(
                example["labels"], [float(n in row["labels"]) for n in NAMES]
            )
            np.testing.assert_array_equal(
                example["mask"], _crop_or_pad(row["mask"], 20, 30)[:, :, None]
            )


def _break(data: dict, what: str) -> dict:
    data = json.loads(json.dumps(data))
    anns = data["annotations"]
    if what == "outside":
        anns[0]["bbox"] = [25, 2, 10, 8]
    elif what == "no_area":
        anns[0]["bbox"] = [3, 2, 0, 8]
    elif what == "category":
        anns[1]["category_id"] = 9
    elif what == "polygon":
        anns[0]["segmentation"] = [[3, 2, 13, 2]]
    elif what == "rle_size":
        anns[1]["segmentation"]["size"] = [30, 20]
    elif what == "rle_sum":
        anns[1]["segmentation"]["counts"] = [5, 10]
    elif what == "image":
        data["images"][0]["file_name"] = "missing.png"
    elif what == "no_segmentation":
        del anns[0]["segmentation"]
    elif what == "bbox":
        anns[0]["bbox"] = [1, 2, "3", 4]
    return data


@pytest.mark.parametrize(
    ("what", "problem"),
    [
        (
            "outside",
            "annotation 1 (image 10, 30x20): bbox [25, 2, 10, 8] lies 5 px outside the image",
        ),
        ("no_area", "annotation 1 (image 10, 30x20): bbox [3, 2, 0, 8] has no area"),
        ("category", "annotation 2: category_id 9 is not a category id [1, 3, 7]"),
        ("bbox", "annotation 1: expected bbox [x, y, width, height] of numbers"),
        ("image", "image 12: no such file"),
        (
            "polygon",
            "annotation 1 (image 10): expected polygons [[x0, y0, x1, y1, x2, y2, ...], ...]",
        ),
        ("rle_size", "annotation 2 (image 10): RLE size [30, 20] is not the image's [20, 30]"),
        ("rle_sum", "annotation 2 (image 10): RLE counts sum to 15, not 600"),
        ("no_segmentation", "annotation 1 (image 10): expected a segmentation (polygons or RLE)"),
    ],
)
def test_bad_annotations_name_the_file_and_annotation(coco, tmp_path, what, problem):
    folder, data = coco
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(_break(data, what)))
    with pytest.raises(RecordError) as err:
        src = rows_from_coco({"train": (path, folder)})
        list(src.rows_gen("train"))  # masks are made when rows are read
    assert str(err.value).startswith(f"{path}: {problem}"), str(err.value)


def test_a_json_size_that_is_not_the_files_is_a_mask_error_naming_split_and_row(coco, tmp_path):
    folder, data = coco
    data = json.loads(json.dumps(data))
    data["images"][2]["height"] = 19  # b.png is 16 high
    data["annotations"] = [a for a in data["annotations"] if a["image_id"] != 11]
    (tmp_path / "ann.json").write_text(json.dumps(data))
    src = rows_from_coco({"train": (tmp_path / "ann.json", folder)})
    image = EncodedImageHandler(size=(8, 8))
    with pytest.raises(HandlerError) as err:
        write_records(
            tmp_path / "records",
            "{split}-{idx:03d}.tfrecord",
            {"image": image, "mask": MaskHandler.for_image("image", image)},
            samples_per_record=5,
            split_to_size=src.split_to_size,
            rows_gen=src.rows_gen,
            progress=False,
        )
    assert str(err.value).startswith(
        "split 'train', row 1, key 'mask': expected a mask of its image's size 16x12 (HxW, "
    )
    assert str(err.value).endswith("b.png), got 19x12")
    assert not (tmp_path / "records" / "manifest.json").exists()


def test_splits_with_other_categories_are_refused(coco, tmp_path):
    folder, data = coco
    other = json.loads(json.dumps(data))
    other["categories"][0]["name"] = "plum"
    (tmp_path / "eval.json").write_text(json.dumps(other))
    with pytest.raises(RecordError, match="split 'eval' has categories"):
        rows_from_coco(
            {"train": (folder / "train.json", folder), "eval": (tmp_path / "eval.json", folder)}
        )
