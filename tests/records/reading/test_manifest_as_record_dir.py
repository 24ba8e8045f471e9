"""input_fn and dataset_from_records take the Manifest of a record directory in its place."""

from __future__ import annotations

import json

import numpy as np
import pytest

from reproml.errors import ConfigError, RecordError
from reproml.records.manifest import MANIFEST_NAME, Manifest, load_manifest
from reproml.records.reader import dataset_from_records, input_fn
from tests.records.reading.tiny_records import write_tiny_records


@pytest.fixture
def written(tmp_path):
    """A tiny record dir of this test's own (some tests damage it) and write_records' Manifest."""
    manifest, rows = write_tiny_records(tmp_path / "records")
    return tmp_path / "records", manifest, rows


def test_manifest_knows_its_directory_without_changing_json_or_fingerprint(written):
    record_dir, manifest, _ = written
    assert manifest.record_dir == record_dir  # set by write_records (Manifest.save)
    loaded = load_manifest(record_dir)
    assert loaded.record_dir == record_dir
    on_disk = json.loads((record_dir / MANIFEST_NAME).read_text())
    assert "record_dir" not in on_disk and loaded.to_json() == on_disk == manifest.to_json()
    assert loaded.compute_fingerprint() == loaded.fingerprint == on_disk["fingerprint"]
    in_memory = Manifest.from_json(on_disk)
    assert in_memory.record_dir is None and in_memory == loaded  # not part of equality


@pytest.mark.parametrize("how", ["write_records", "load_manifest"])
@pytest.mark.parametrize("batch_size", [None, 5])
def test_dataset_from_records_reads_the_same_from_a_manifest(written, how, batch_size):
    record_dir, written_manifest, _ = written
    manifest = written_manifest if how == "write_records" else load_manifest(record_dir)
    from_dir = list(dataset_from_records("test", record_dir, batch_size=batch_size))
    from_manifest = list(dataset_from_records("test", manifest, batch_size=batch_size))
    assert len(from_manifest) == len(from_dir) == (12 if batch_size is None else 3)
    for a, b in zip(from_dir, from_manifest, strict=True):
        assert sorted(a) == sorted(b)
        for key in a:
            np.testing.assert_array_equal(a[key].numpy(), b[key].numpy())


@pytest.mark.parametrize("how", ["write_records", "load_manifest"])
def test_input_fn_reads_the_same_from_a_manifest(written, how):
    record_dir, written_manifest, rows = written
    manifest = written_manifest if how == "write_records" else load_manifest(record_dir)
    batches = list(input_fn("test", 5, manifest, n_epochs=1, feature_keys=("image",))())
    labels = np.concatenate([labels.numpy() for _, labels in batches])
    np.testing.assert_array_equal(labels, [r["label"] for r in rows["test"]])
    images = np.concatenate([features["image"].numpy() for features, _ in batches])
    np.testing.assert_array_equal(images, np.stack([r["image"] for r in rows["test"]]))
    shuffled = [
        input_fn("train", 8, m, n_epochs=1, random_seed=3)() for m in (manifest, record_dir)
    ]
    a, b = ([lab.numpy().tolist() for _, lab in dataset] for dataset in shuffled)
    assert a == b


def test_a_manifest_is_verified_against_its_directory(written):
    record_dir, manifest, _ = written
    shard = record_dir / "test-00001.tfrecord"
    shard.write_bytes(shard.read_bytes()[:-3])
    with pytest.raises(RecordError, match=f"{shard}: has [0-9]+ bytes but the manifest lists"):
        input_fn("test", 4, manifest)
    with pytest.raises(RecordError, match="test-00001.tfrecord"):
        dataset_from_records("test", manifest)


def test_a_manifest_that_never_saw_a_directory_is_refused(written):
    record_dir, _, _ = written
    in_memory = Manifest.from_json(json.loads((record_dir / MANIFEST_NAME).read_text()))
    message = "config entry 'record_dir': expected a record directory, or a Manifest returned by"
    with pytest.raises(ConfigError, match=message):
        input_fn("test", 4, in_memory)
    with pytest.raises(ConfigError, match=message):
        dataset_from_records("test", in_memory)
