"""Encoded images decoded per example before batching: the same batches as one decode per batch."""

from __future__ import annotations

import io

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from handlers import ClassLabelHandler, EncodedImageHandler
from handlers.boxes import BoxesHandler
from handlers.sequence import MultiLabelHandler
from reproml.records.batch_decode import decode_batches, per_example_keys
from reproml.records.reader import dataset_from_records, input_fn
from reproml.records.spec import decode_example, parse_spec
from reproml.records.whole_shards import read_order
from reproml.records.writer import write_records

N = 7


def _jpeg(height: int, width: int, seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    out = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8)).save(out, "JPEG")
    return out.getvalue()


@pytest.fixture(scope="module")
def records(tmp_path_factory):
    """7 JPEGs of mixed sizes, each with 0-2 boxes, a label set and a class label."""
    rows = [
        {
            "image": _jpeg(20 + 3 * i, 30 - 2 * i, i),
            "boxes": {
                "boxes": [[0.1, 0.1, 0.5, 0.6]] * (i % 3),
                "labels": [i % 2] * (i % 3),
            },
            "tags": {"red", "round"} if i % 2 else {"round"},
            "label": i % 3,
        }
        for i in range(N)
    ]
    handlers = {
        "image": EncodedImageHandler(size=(12, 16), decode_scale="auto"),
        "boxes": BoxesHandler(names=["a", "b"]),
        "tags": MultiLabelHandler(names=["red", "round"]),
        "label": ClassLabelHandler(num_classes=3),
    }
    record_dir = tmp_path_factory.mktemp("batch_decode")
    manifest = write_records(
        record_dir,
        "{split}-{idx:03d}.tfrecord",
        handlers,
        samples_per_record=3,
        split_to_size={"train": N},
        rows_gen=lambda split: rows,
        progress=False,
    )
    return record_dir, manifest


def _serialized(record_dir):
    files = sorted(str(p) for p in record_dir.glob("train-*.tfrecord"))
    return tf.data.TFRecordDataset(files)


def _as_numpy(value):
    return value.to_list() if isinstance(value, tf.RaggedTensor) else value.numpy().tolist()


@pytest.mark.parametrize("drop_remainder", [False, True])
def test_per_example_decode_gives_the_batches_of_a_per_batch_decode(records, drop_remainder):
    record_dir, manifest = records
    specs = manifest.specs(["image", "boxes", "boxes/label", "tags", "label"])
    assert per_example_keys(specs) == ["image"]
    features = parse_spec(specs)
    batches = _serialized(record_dir).batch(3, drop_remainder=drop_remainder)
    want = [
        decode_example(specs, tf.io.parse_example(b, features)) for b in batches
    ]  # tf.map_fn over each batch's images
    got = list(decode_batches(batches, specs, 3, drop_remainder=drop_remainder))
    assert len(got) == len(want) == (2 if drop_remainder else 3)
    for mine, theirs in zip(got, want, strict=True):
        assert set(mine) == set(specs)
        for key in specs:
            assert type(mine[key]) is type(theirs[key]), key
            assert mine[key].dtype == theirs[key].dtype, key
            assert _as_numpy(mine[key]) == _as_numpy(theirs[key]), key


def test_input_fn_reads_images_boxes_and_label_sets_in_file_order(records):
    record_dir, manifest = records
    specs = manifest.specs(["image", "boxes", "tags", "label"])
    read = input_fn(
        "train", 4, record_dir, n_epochs=1, shuffle=False, feature_keys=["image", "boxes", "tags"]
    )
    got = list(read())
    assert [int(labels.shape[0]) for _, labels in got] == [4, 3]
    singles = [
        decode_example(specs, tf.io.parse_single_example(s, parse_spec(specs)))
        for s in _serialized(record_dir)
    ]
    rows = [(f, i) for f, labels in got for i in range(int(labels.shape[0]))]
    labels = np.concatenate([labels.numpy() for _, labels in got])
    assert labels.tolist() == [int(s["label"]) for s in singles]
    for (features, i), single in zip(rows, singles, strict=True):
        np.testing.assert_array_equal(features["image"][i], single["image"])
        np.testing.assert_array_equal(features["boxes"][i].numpy(), single["boxes"])
        np.testing.assert_array_equal(features["tags"][i], single["tags"])


def _loops(dataset: tf.data.Dataset) -> list[str]:
    """The while loops (a `tf.map_fn` over a batch) in the functions of a dataset's graph."""
    graph = tf.compat.v1.GraphDef()
    graph.ParseFromString(dataset._as_serialized_graph().numpy())
    return [
        function.signature.name
        for function in graph.library.function
        for node in function.node_def
        if node.op in ("While", "StatelessWhile")
    ]


@pytest.mark.parametrize("how", ["input_fn", "batched", "single"])
def test_read_order_2_decodes_images_per_example_not_per_batch(records, how):
    """Indexed records (read order 2) decode encoded images in a parallel per-example map.

    A `tf.map_fn` over each batch's (or shard's) images is a while loop in the dataset's
    graph: there must be none, and the images are those a per-example decode gives.
    """
    record_dir, manifest = records
    assert read_order(manifest) == 2
    if how == "input_fn":
        dataset = input_fn("train", 4, record_dir, n_epochs=1, shuffle=True, random_seed=1)()
        images = [image for features, _ in dataset for image in features["image"]]
    else:
        batch_size = 4 if how == "batched" else None
        dataset = dataset_from_records("train", record_dir, keys=["image"], batch_size=batch_size)
        images = [e["image"] for e in dataset]
        images = [i for batch in images for i in batch] if batch_size else images
    assert _loops(dataset) == []
    specs = manifest.specs(["image"])
    singles = [
        decode_example(specs, tf.io.parse_single_example(s, parse_spec(specs)))["image"]
        for s in _serialized(record_dir)
    ]
    assert len(images) == N
    if how != "input_fn":  # in file order
        for got, want in zip(images, singles, strict=True):
            np.testing.assert_array_equal(got, want)
    else:  # shuffled: the same images, in another order
        key = sorted(np.asarray(i).tobytes() for i in images)
        assert key == sorted(np.asarray(i).tobytes() for i in singles)
