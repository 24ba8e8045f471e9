"""CSV / JSON-lines index sources: a 20:1 imbalanced multi-label index written and read back exactly."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest
from PIL import Image

from handlers import ClassLabelHandler, EncodedImageHandler, MultiLabelHandler
from reproml.errors import ConfigError, RecordError
from reproml.records.reader import dataset_from_records
from reproml.records.sources_index import rows_from_index
from reproml.records.writer import write_records

TAGS = ("ripe", "spotted", "yellow")


@pytest.fixture(scope="module")
def fruit(tmp_path_factory):
    """21 train JPEGs (20 banana : 1 fig), 3 eval; sizes and modes vary; a CSV index of them."""
    folder = tmp_path_factory.mktemp("fruit")
    rng = np.random.default_rng(3)
    lines = ["path,label,tags,split"]
    expected = {"train": [], "eval": []}
    for i in range(24):
        split = "train" if i < 21 else "eval"
        label = "fig" if i in (20, 23) else "banana"
        tags = [t for j, t in enumerate(TAGS) if (i >> j) & 1]
        shape = (8 + i % 5, 10 + i % 7) + (() if i % 3 == 0 else (3,))
        name = f"img{i:02d}.jpg"
        Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8)).save(folder / name)
        lines.append(f"{name},{label},{'|'.join(tags)},{split}")
        expected[split].append((folder / name, label, tags))
    (folder / "index.csv").write_text("\n".join(lines) + "\n")
    return folder, expected


def test_a_multi_label_csv_index_round_trips_exactly(fruit, tmp_path):
    folder, expected = fruit
    src = rows_from_index(
        folder / "index.csv",
        label_columns=("label", "tags"),
        multi_label_columns=("tags",),
        split_column="split",
    )
    assert src.split_to_size == {"train": 21, "eval": 3}
    assert src.label_names == {"label": ("banana", "fig"), "tags": TAGS}
    assert src.source["sha256"] == hashlib.sha256((folder / "index.csv").read_bytes()).hexdigest()
    assert src.source["type"] == "csv_index"
    handlers = {
        "image": EncodedImageHandler(size=(12, 12)),
        "label": ClassLabelHandler(names=src.label_names["label"]),
        "tags": MultiLabelHandler(names=src.label_names["tags"]),
    }
    manifest = write_records(
        tmp_path / "records",
        "{split}-{idx:03d}.tfrecord",
        handlers,
        samples_per_record=8,
        split_to_size=src.split_to_size,
        rows_gen=src.rows_gen,
        source=src.source,
        progress=False,
    )
    assert manifest.source["sha256"] == src.source["sha256"]
    assert manifest.splits["train"].label_histogram["label"] == {"banana": 20, "fig": 1}
    for split, rows in expected.items():
        for batch_size in (None, 5):
            dataset = dataset_from_records(split, tmp_path / "records", batch_size=batch_size)
            if batch_size is None:
                got = [{k: v.numpy() for k, v in ex.items()} for ex in dataset]
            else:
                got = [
                    {k: v[i].numpy() for k, v in batch.items()}
                    for batch in dataset
                    for i in range(len(batch["label"]))
                ]
            assert len(got) == len(rows)
            for example, (path, label, tags) in zip(got, rows, strict=True):
                assert (
                    example["image/sha256"]
                    == hashlib.sha256(path.read_bytes()).hexdigest().encode()
                )
                with Image.open(path) as image:
                    assert (example["image/width"], example["image/height"]) == image.size
                assert example["image"].shape == (12, 12, 3)
                assert example["label"] == ("banana", "fig").index(label)
                np.testing.assert_array_equal(example["tags"], [float(t in tags) for t in TAGS])


def test_open_images_style_lines_are_grouped_by_image(tmp_path):
    for name in ("a.jpg", "b.jpg"):
        Image.fromarray(np.zeros((4, 4), np.uint8)).save(tmp_path / name)
    (tmp_path / "labels.csv").write_text(
        "ImageID,LabelName,Confidence\na.jpg,/m/banana,1\nb.jpg,/m/fig,1\na.jpg,/m/fig,0\n"
    )
    src = rows_from_index(
        tmp_path / "labels.csv",
        path_column="ImageID",
        label_columns=("LabelName", "Confidence"),
        group_by_path=True,
    )
    rows = list(src.rows_gen("train"))
    assert rows == [
        {
            "image": str(tmp_path / "a.jpg"),
            "LabelName": ["/m/banana", "/m/fig"],
            "Confidence": ["1", "0"],
        },
        {"image": str(tmp_path / "b.jpg"), "LabelName": ["/m/fig"], "Confidence": ["1"]},
    ]
    assert src.label_names["LabelName"] == ("/m/banana", "/m/fig")


def test_a_json_lines_index_keeps_lists(tmp_path):
    Image.fromarray(np.zeros((4, 4), np.uint8)).save(tmp_path / "a.png")
    lines = [{"path": "a.png", "tags": ["ripe", "yellow"]}, {"path": "a.png", "tags": []}]
    (tmp_path / "index.jsonl").write_text("\n".join(json.dumps(x) for x in lines) + "\n\n")
    src = rows_from_index(tmp_path / "index.jsonl", label_columns=("tags",))
    assert [row["tags"] for row in src.rows_gen("train")] == [["ripe", "yellow"], []]
    assert src.source["type"] == "jsonl_index"


@pytest.mark.parametrize(
    ("name", "text", "kwargs", "problem"),
    [
        ("i.csv", "path,label\na.png,x\nb.png\n", {}, "line 3: fewer cells than the header has"),
        (
            "i.csv",
            "file,label\na.png,x\n",
            {},
            "line 2: no column ['path'] (it has ['file', 'label'])",
        ),
        (
            "i.csv",
            "path,label\nmissing.png,x\n",
            {},
            "line 2: 'path' names {dir}/missing.png, no such file",
        ),
        ("i.csv", "path,label\n,x\n", {}, "line 2: column 'path' holds no file path"),
        ("i.csv", "path,label\na.png,x,y\n", {}, "line 2: more cells than the header has"),
        (
            "i.csv",
            "path,label,split\na.png,x,valid\n",
            {"split_column": "split"},
            "line 2: split 'valid' is not one of ['train', 'eval', 'test']",
        ),
        ("i.jsonl", '{"path": "a.png", "label": 1}\n{"path": \n', {}, "line 2: not JSON"),
        ("i.jsonl", "[1, 2]\n", {}, "line 1: expected a JSON object"),
    ],
)
def test_bad_index_lines_name_the_file_and_line(tmp_path, name, text, kwargs, problem):
    Image.fromarray(np.zeros((4, 4), np.uint8)).save(tmp_path / "a.png")
    (tmp_path / name).write_text(text)
    with pytest.raises(RecordError) as err:
        rows_from_index(tmp_path / name, **kwargs)
    assert str(err.value).startswith(f"{tmp_path / name}: {problem.format(dir=tmp_path)}"), str(
        err.value
    )


def test_missing_index_and_bad_settings(tmp_path):
    with pytest.raises(RecordError, match="no such index file"):
        rows_from_index(tmp_path / "none.csv")
    with pytest.raises(ConfigError, match="multi_label_columns"):
        rows_from_index(tmp_path / "none.csv", multi_label_columns=("tags",))
