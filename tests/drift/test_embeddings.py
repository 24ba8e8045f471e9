"""Reading images to embed: record splits, .npz files, and what is refused."""

import numpy as np
import pytest

from reproml.drift.embeddings import check_images, read_images, read_npz, read_split
from reproml.errors import ConfigError, RecordError


def test_read_split_returns_images_labels_and_provenance(digits_test_records):
    batch = read_split(digits_test_records, "test")
    assert batch.images.shape == (300, 28, 28, 1) and batch.images.dtype == np.uint8
    assert batch.labels.shape == (300,) and batch.timestamps is None
    assert batch.source["split"] == "test" and len(batch.source["fingerprint"]) == 64


def test_read_split_names_the_missing_split(digits_test_records):
    with pytest.raises(RecordError, match="has no split 'production' \\(splits: \\['test'\\]\\)"):
        read_split(digits_test_records, "production")


def test_read_npz_adds_the_channel_and_records_the_files_sha256(tmp_path):
    path = tmp_path / "prod.npz"
    images = np.arange(3 * 28 * 28, dtype=np.uint8).reshape(3, 28, 28)
    np.savez(path, image=images, timestamp=np.array([1.0, 2.0, 3.0]), label=np.array([1, 2, 3]))
    batch = read_images(path, "ignored")
    assert batch.images.shape == (3, 28, 28, 1)
    assert np.array_equal(batch.images[..., 0], images)
    assert batch.labels.tolist() == [1, 2, 3] and batch.timestamps.tolist() == [1.0, 2.0, 3.0]
    assert len(batch.source["sha256"]) == 64 and batch.source["examples"] == 3


@pytest.mark.parametrize(
    ("arrays", "message"),
    [
        ({"x": np.zeros((2, 28, 28), np.uint8)}, "has no 'image' array \\(keys: \\['x'\\]\\)"),
        ({"image": np.zeros((2, 28, 28), np.float32)}, "'image' is float32 \\[2, 28, 28, 1\\]"),
        (
            {"image": np.zeros((2, 28, 28), np.uint8), "timestamp": np.zeros(3)},
            "'timestamp' is float64 \\[3\\], not a number per image \\[2\\]",
        ),
        (
            {"image": np.zeros((2, 28, 28), np.uint8), "label": np.array([0.5, 1.0])},
            "'label' is float64",
        ),
    ],
)
def test_read_npz_refuses_naming_the_file_and_key(tmp_path, arrays, message):
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    with pytest.raises(RecordError, match=message):
        read_npz(path)


def test_read_images_refuses_what_is_neither_npz_nor_records(tmp_path):
    (tmp_path / "images.txt").write_text("no")
    with pytest.raises(ConfigError, match="'production': expected an existing record directory"):
        read_images(tmp_path / "images.txt", "production")
    with pytest.raises(ConfigError, match="'drift.embed_from': expected an existing record"):
        read_images(tmp_path / "missing.npz", "test", "drift.embed_from")


@pytest.mark.parametrize(
    ("images", "got"),
    [
        (np.zeros((2, 28, 28, 1), np.float32), "float32 \\[2, 28, 28, 1\\]"),
        (np.zeros((2, 14, 14, 1), np.uint8), "uint8 \\[2, 14, 14, 1\\]"),
        (np.zeros((0, 28, 28, 1), np.uint8), "uint8 \\[0, 28, 28, 1\\]"),
        ([[1]], "a list"),
    ],
)
def test_check_images_names_shape_and_dtype(images, got):
    with pytest.raises(ConfigError, match=f"uint8 images \\[N, 28, 28, 1\\].*got '?{got}"):
        check_images(images, [28, 28, 1])
