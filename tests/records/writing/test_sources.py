from __future__ import annotations

import pickle

import h5py
import numpy as np
import pytest
from PIL import Image

from handlers.image import ImageArrayHandler, ImageFileHandler
from handlers.label import ClassLabelHandler
from reproml.errors import ConfigError, RecordError
from reproml.records.manifest import load_manifest
from reproml.records.reader import dataset_from_records
from reproml.records.sources import (
    read_npz,
    rows_from_hdf5,
    rows_from_image_folder,
    rows_from_npz,
    serialize_npz,
)
from reproml.records.verify import verify
from reproml.records.writer import write_records

PATTERN = "{split}-{idx:03d}.tfrecord"


def read_all(record_dir, split):
    batches = list(dataset_from_records(split, record_dir, batch_size=100).as_numpy_iterator())
    return {k: np.concatenate([b[k] for b in batches]) for k in batches[0]}


@pytest.fixture
def keras_arrays():
    rng = np.random.default_rng(3)
    return {
        "x_train": rng.integers(0, 256, (20, 6, 6), dtype=np.uint8),
        "y_train": (np.arange(20) % 4).astype(np.uint8),
        "x_test": rng.integers(0, 256, (6, 6, 6), dtype=np.uint8),
        "y_test": (np.arange(6) % 4).astype(np.uint8).reshape(6, 1),  # CIFAR-style [N, 1]
    }


def npz_handlers():
    return {"image": ImageArrayHandler(shape=(6, 6, 1)), "label": ClassLabelHandler(num_classes=4)}


def test_serialize_npz_round_trip_with_last_rows_as_eval(tmp_path, keras_arrays):
    npz = tmp_path / "data.npz"
    np.savez(npz, **keras_arrays)
    manifest = serialize_npz(
        npz,
        "image",
        tmp_path / "rec",
        npz_handlers(),
        eval_size=0.25,
        samples_per_record=4,
        num_workers=0,
        progress=False,
    )
    assert {s: i.num_examples for s, i in manifest.splits.items()} == {
        "train": 15,
        "eval": 5,
        "test": 6,
    }
    assert manifest.source["eval"] == "last 5 of 20 train rows"
    assert manifest.source["file"] == str(npz.resolve()) and len(manifest.source["sha256"]) == 64
    x, y = keras_arrays["x_train"], keras_arrays["y_train"]
    for split, (xs, ys) in {
        "train": (x[:15], y[:15]),
        "eval": (x[15:], y[15:]),
        "test": (keras_arrays["x_test"], keras_arrays["y_test"].ravel()),
    }.items():
        back = read_all(tmp_path / "rec", split)
        np.testing.assert_array_equal(back["image"][..., 0], xs)
        np.testing.assert_array_equal(back["label"], ys)
    assert verify(tmp_path / "rec") == []


def test_seeded_eval_carving_is_deterministic_and_disjoint(tmp_path, keras_arrays):
    npz = tmp_path / "data.npz"
    np.savez(npz, **keras_arrays)
    a = rows_from_npz(npz, eval_size=6, eval_seed=7)
    b = rows_from_npz(npz, eval_size=6, eval_seed=7)
    c = rows_from_npz(npz, eval_size=6, eval_seed=8)
    ids = {
        name: {s: [r["image"].tobytes() for r in src.rows_gen(s)] for s in ("train", "eval")}
        for name, src in (("a", a), ("b", b), ("c", c))
    }
    assert ids["a"] == ids["b"] and ids["a"]["eval"] != ids["c"]["eval"]
    assert len(ids["a"]["eval"]) == 6 and len(ids["a"]["train"]) == 14
    assert not set(ids["a"]["eval"]) & set(ids["a"]["train"])
    assert a.source["eval"] == "6 of 20 train rows by np.random.default_rng(7)"


def test_npz_with_its_own_eval_arrays_carves_nothing(tmp_path, keras_arrays):
    npz = tmp_path / "data.npz"
    np.savez(
        npz, x_eval=keras_arrays["x_test"][:2], y_eval=keras_arrays["y_test"][:2], **keras_arrays
    )
    src = rows_from_npz(npz)
    assert src.split_to_size == {"train": 20, "eval": 2, "test": 6}


def test_npz_with_pickled_objects_is_refused_naming_file_and_array(tmp_path, keras_arrays):
    npz = tmp_path / "objects.npz"
    np.savez(npz, **dict(keras_arrays, y_test=np.array([{"a": 1}] * 6, dtype=object)))
    with pytest.raises(RecordError) as info:
        serialize_npz(npz, "image", tmp_path / "rec", npz_handlers(), progress=False)
    assert info.value.path == str(npz)
    assert "array 'y_test' holds pickled Python objects" in str(info.value)
    assert "allow_pickle=False" in str(info.value)
    assert not (tmp_path / "rec").exists()

    pickled = tmp_path / "data.pkl"
    pickled.write_bytes(pickle.dumps(keras_arrays))
    with pytest.raises(RecordError, match="is a pickle, not an .npz"):
        rows_from_npz(pickled)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda a: a.pop("y_test"), r"has no arrays \['y_test'\]"),
        (
            lambda a: a.update(y_train=a["y_train"][:-1]),
            r"x_train has shape \(20, 6, 6\) and y_train",
        ),
    ],
)
def test_bad_npz_layout_names_the_array(tmp_path, keras_arrays, change, message):
    change(keras_arrays)
    np.savez(tmp_path / "bad.npz", **keras_arrays)
    with pytest.raises(RecordError, match=message):
        rows_from_npz(tmp_path / "bad.npz")


def test_npz_with_only_one_eval_array_is_refused(tmp_path, keras_arrays):
    np.savez(tmp_path / "half.npz", x_eval=keras_arrays["x_test"][:2], **keras_arrays)
    with pytest.raises(RecordError, match=r"half.npz: has x_eval but no y_eval. Save both"):
        rows_from_npz(tmp_path / "half.npz")


def test_read_npz_reads_required_and_present_optional_arrays(tmp_path, keras_arrays):
    np.savez(tmp_path / "d.npz", **keras_arrays)
    arrays = read_npz(tmp_path / "d.npz", ["y_train", "x_test"], optional=["x_eval", "x_train"])
    assert list(arrays) == ["y_train", "x_test", "x_train"]
    np.testing.assert_array_equal(arrays["x_train"], keras_arrays["x_train"])
    with pytest.raises(RecordError, match=r"d.npz: has no arrays \['z'\].*np.savez\(z=...\)"):
        read_npz(tmp_path / "d.npz", ["z"])
    np.save(tmp_path / "one.npy", keras_arrays["x_train"])
    with pytest.raises(RecordError, match=r"one.npy: holds one array of shape \(20, 6, 6\)"):
        read_npz(tmp_path / "one.npy", ["x_train"])
    with pytest.raises(RecordError, match="nope.npz: does not exist"):
        read_npz(tmp_path / "nope.npz", ["x_train"])


def test_eval_size_must_leave_train_rows(tmp_path, keras_arrays):
    np.savez(tmp_path / "d.npz", **keras_arrays)
    with pytest.raises(ConfigError, match="eval_size"):
        rows_from_npz(tmp_path / "d.npz", eval_size=20)


def test_hdf5_rows_stream_in_blocks_and_round_trip(tmp_path):
    rng = np.random.default_rng(5)
    images = rng.integers(0, 256, (11, 5, 5, 1), dtype=np.uint8)
    labels = rng.integers(0, 3, 11)
    with h5py.File(tmp_path / "d.h5", "w") as f:
        f["train/images"], f["train/labels"] = images[:8], labels[:8]
        f["test/images"], f["test/labels"] = images[8:], labels[8:]
    src = rows_from_hdf5(
        tmp_path / "d.h5",
        {s: {"image": f"{s}/images", "label": f"{s}/labels"} for s in ("train", "test")},
        chunk_rows=3,
    )
    assert src.split_to_size == {"train": 8, "test": 3}
    handlers = {
        "image": ImageArrayHandler(shape=(5, 5, 1)),
        "label": ClassLabelHandler(num_classes=3),
    }
    write_records(
        tmp_path / "rec",
        PATTERN,
        handlers,
        3,
        src.split_to_size,
        src.rows_gen,
        source=src.source,
        num_workers=0,
        progress=False,
    )
    back = read_all(tmp_path / "rec", "train")
    np.testing.assert_array_equal(back["image"], images[:8])
    np.testing.assert_array_equal(back["label"], labels[:8])
    assert load_manifest(tmp_path / "rec").source["datasets"]["test"]["image"] == "test/images"


def test_hdf5_errors_name_the_dataset(tmp_path):
    with h5py.File(tmp_path / "d.h5", "w") as f:
        f["x"], f["y"] = np.zeros((4, 2)), np.zeros(3)
    with pytest.raises(
        RecordError, match=r"'nope' \(split 'train', key 'image'\) is missing.*\['x', 'y'\]"
    ):
        rows_from_hdf5(tmp_path / "d.h5", {"train": {"image": "nope"}})
    with pytest.raises(
        RecordError, match=r"datasets of split 'train' differ in length: \{'x': 4, 'y': 3\}"
    ):
        rows_from_hdf5(tmp_path / "d.h5", {"train": {"image": "x", "label": "y"}})
    (tmp_path / "not.h5").write_bytes(b"plain text")
    with pytest.raises(RecordError, match="not a readable HDF5 file"):
        rows_from_hdf5(tmp_path / "not.h5", {"train": {"image": "x"}})


def make_image_folder(root, classes, per_class, seed):
    rng = np.random.default_rng(seed)
    pixels = {}
    for name in classes:
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            array = rng.integers(0, 256, (8, 8), dtype=np.uint8)
            Image.fromarray(array, mode="L").save(root / name / f"img{i}.png")
            pixels[(name, f"img{i}.png")] = array
    return pixels


def test_image_folder_rows_are_sorted_and_round_trip(tmp_path):
    train = make_image_folder(tmp_path / "train", ["dog", "cat"], 3, 0)
    test = make_image_folder(tmp_path / "test", ["dog", "cat"], 2, 1)
    (tmp_path / "train" / "cat" / ".DS_Store").write_bytes(b"ignored")
    src = rows_from_image_folder({"train": tmp_path / "train", "test": tmp_path / "test"})
    assert src.class_names == ("cat", "dog")
    rows = list(src.rows_gen("train"))
    assert [(r["label"], r["image"].rsplit("/", 1)[1]) for r in rows] == [
        ("cat", "img0.png"),
        ("cat", "img1.png"),
        ("cat", "img2.png"),
        ("dog", "img0.png"),
        ("dog", "img1.png"),
        ("dog", "img2.png"),
    ]
    handlers = {
        "image": ImageFileHandler(delegate_to=ImageArrayHandler(shape=(8, 8, 1))),
        "label": ClassLabelHandler(names=src.class_names),
    }
    manifest = write_records(
        tmp_path / "rec",
        PATTERN,
        handlers,
        4,
        src.split_to_size,
        src.rows_gen,
        source=src.source,
        num_workers=0,
        progress=False,
    )
    assert manifest.splits["train"].label_histogram == {"label": {"cat": 3, "dog": 3}}
    assert manifest.source["class_names"] == ["cat", "dog"]
    for split, pixels in (("train", train), ("test", test)):
        back = read_all(tmp_path / "rec", split)
        order = sorted(pixels)  # (class, file) sorted == the rows' order
        np.testing.assert_array_equal(back["image"][..., 0], np.stack([pixels[k] for k in order]))
        np.testing.assert_array_equal(back["label"], [src.class_names.index(c) for c, _ in order])
    again = rows_from_image_folder({"train": tmp_path / "train", "test": tmp_path / "test"})
    assert again.source["listing_sha256"] == src.source["listing_sha256"]


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (
            lambda r: (r / "stray.png").write_bytes(b"x"),
            "stray.png: is a file outside a class folder",
        ),
        (lambda r: (r / "cat" / "notes.txt").write_text("x"), "notes.txt: is not an image file"),
        (lambda r: (r / "cat" / "sub").mkdir(), "sub: is a nested folder"),
        (lambda r: (r / "bird").mkdir(), "bird: is an empty class folder"),
    ],
)
def test_image_folder_errors_name_the_path(tmp_path, setup, message):
    make_image_folder(tmp_path / "train", ["cat", "dog"], 1, 0)
    setup(tmp_path / "train")
    with pytest.raises(RecordError, match=message):
        rows_from_image_folder({"train": tmp_path / "train"})


def test_image_folder_splits_must_have_the_same_classes(tmp_path):
    make_image_folder(tmp_path / "train", ["cat", "dog"], 1, 0)
    make_image_folder(tmp_path / "test", ["cat"], 1, 0)
    with pytest.raises(RecordError, match=r"split 'test' has classes \['cat'\], split 'train' has"):
        rows_from_image_folder({"train": tmp_path / "train", "test": tmp_path / "test"})
