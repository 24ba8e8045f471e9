"""`source_changes`: a source fingerprinted at write time, compared as it is now (no Sacred)."""

from __future__ import annotations

import logging

import numpy as np
import pytest
from PIL import Image

from reproml.records.source_fingerprint import (
    CONTENT_KEY,
    FILE_HASHES_KEY,
    content_sha256,
    source_changes,
)
from reproml.records.sources import rows_from_image_folder, rows_from_npz


def _png(path, seed):
    pixels = np.random.default_rng(seed).integers(0, 256, (6, 6, 3), dtype=np.uint8)
    Image.fromarray(pixels, mode="RGB").save(path, compress_level=0)


@pytest.fixture
def folder(tmp_path):
    seed = 0
    for split in ("train", "test"):
        for name in ("ant", "bee", "cat"):
            (tmp_path / split / name).mkdir(parents=True)
            for i in range(4):
                seed += 1
                _png(tmp_path / split / name / f"{i}.png", seed)
    return tmp_path


def _source(folder):
    return rows_from_image_folder({"train": folder / "train", "test": folder / "test"}).source


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda f: _png(f / "train" / "bee" / "new.png", 7), "1 file added ("),
        (lambda f: (f / "test" / "cat" / "2.png").unlink(), "1 file removed ("),
        (lambda f: _png(f / "train" / "ant" / "0.png", 4242), "1 file changed ("),
        (lambda f: (f / "test" / "dog").mkdir() or _png(f / "test" / "dog" / "d.png", 1), "added"),
    ],
)
def test_a_folder_change_is_named(folder, change, expected):
    source = _source(folder)
    assert source_changes(source) is None
    change(folder)
    found = source_changes(source)
    assert found is not None and expected in found and ".png" in found


def test_files_the_folder_listing_ignores_are_not_a_change(folder):
    source = _source(folder)
    (folder / "train" / "ant" / ".DS_Store").write_bytes(b"x")
    (folder / "train" / "ant" / "notes.txt").write_text("x")
    assert source_changes(source) is None


def test_the_fingerprint_fields_of_an_image_folder(folder):
    source = _source(folder)
    hashes = source[FILE_HASHES_KEY]
    assert sorted(hashes) == ["test", "train"] and len(hashes["train"]) == 12
    size, sha = hashes["train"]["ant/0.png"]
    assert size == (folder / "train" / "ant" / "0.png").stat().st_size and len(sha) == 64
    assert source[CONTENT_KEY] == content_sha256(hashes)


def test_manifests_without_file_hashes_compare_names_and_sizes(folder):
    source = _source(folder)
    old = {k: v for k, v in source.items() if k not in (FILE_HASHES_KEY, CONTENT_KEY)}
    assert source_changes(old) is None
    _png(folder / "train" / "bee" / "new.png", 7)
    assert "listing (names and sizes) changed" in source_changes(old)


def test_a_deleted_source_is_not_compared_and_says_so(tmp_path, caplog):
    path = tmp_path / "d.npz"
    rng = np.random.default_rng(0)
    np.savez(path, x_train=rng.random((4, 2)), y_train=np.arange(4), x_test=rng.random((2, 2)),
             y_test=np.arange(2))  # fmt: skip
    source = rows_from_npz(path, eval_size=0).source
    path.unlink()
    with caplog.at_level(logging.WARNING, logger="reproml"):
        assert source_changes(source) is None
    assert any("is gone: not compared" in r.getMessage() for r in caplog.records)


def test_a_source_with_nothing_to_compare():
    assert source_changes({"name": "sklearn-digits", "reason": "..."}) is None
