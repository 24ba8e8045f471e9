"""The dataset ingredient: records serialized once per config, reused, refused or overwritten.

Every case runs the real `serialize` command of experiments/mnist.py on the digits fallback
(or on small npz files in the Keras layout) in a data_dir of its own.
"""

import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest

from experiments.mnist import ex
from reproml.datasets.mnist import (
    MnistFallbackWarning,
    MnistFileWarning,
    load_digits_as_mnist,
    mnist_keys_to_handlers,
    mnist_rows,
)
from reproml.datasets.mnist_ingredient import FIRST_ROWS
from reproml.datasets.records_ingredient import SERIALIZATION_KEY
from reproml.errors import ConfigError, RecordError, SerializationMismatchError, SourceChangedError
from reproml.records.file_hash import file_sha256
from reproml.records.manifest import MANIFEST_NAME, load_manifest
from reproml.records.writer import write_records

pytestmark = [
    pytest.mark.filterwarnings("ignore", category=MnistFallbackWarning),
    pytest.mark.filterwarnings("ignore", category=MnistFileWarning),
]


@pytest.fixture
def serialize(tmp_path, monkeypatch):
    """Return ``serialize(**dataset_entries)``: the quick config's `serialize` command."""
    monkeypatch.setenv("REPROML_RUNS_DIR", str(tmp_path / "runs"))

    def run(command="serialize", **entries):
        entries.setdefault("data_dir", str(tmp_path / "records"))
        updates = {f"dataset.{k}": v for k, v in entries.items()}
        return ex.run(command, config_updates=updates, named_configs=["quick"])

    return run


def _runs(tmp_path):
    runs = tmp_path / "runs"
    return sorted(p.name for p in runs.iterdir() if p.name.isdigit()) if runs.exists() else []


@pytest.fixture
def npz_files(tmp_path):
    """Two small npz files in the Keras MNIST layout, with different content."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MnistFallbackWarning)
        arrays, _ = load_digits_as_mnist("test")
    paths = []
    for i, name in enumerate(("a.npz", "b.npz")):
        path = tmp_path / name
        np.savez(path, **{k: v[i : i + 200] for k, v in arrays.items()})
        paths.append(path)
    return paths


def test_first_run_serializes_and_stores_its_serialization_config(serialize, tmp_path):
    run = serialize()
    manifest = load_manifest(tmp_path / "records")
    assert run.result == manifest.fingerprint
    assert manifest.source[SERIALIZATION_KEY] == {
        "data_path": None,
        "data_sha256": None,
        "allow_download": False,
        "max_examples": 256,
        "samples_per_record": 100,
        "compression": None,
    }
    assert {s: i.num_examples for s, i in manifest.splits.items()} == {"train": 256, "test": 256}
    assert run.info["dataset"]["fingerprint"] == manifest.fingerprint
    assert run.info["dataset"]["source"][SERIALIZATION_KEY]["max_examples"] == 256
    # How max_examples cut the splits is recorded, and the run's examples per class.
    assert manifest.source["subset"] == {"method": FIRST_ROWS, "max_examples": 256}
    per_class = run.info["dataset"]["examples_per_class"]
    assert sum(per_class["train"].values()) == 256 and len(per_class["train"]) == 10
    assert run.info["dataset"]["classes_missing"] == {}


def test_same_config_reuses_the_records(serialize, tmp_path):
    first = serialize()
    manifest_path = tmp_path / "records" / MANIFEST_NAME
    shard = tmp_path / "records" / "train-00000.tfrecord"
    stamps = (manifest_path.stat().st_mtime_ns, shard.stat().st_mtime_ns)
    again = serialize()
    assert again.result == first.result
    assert (manifest_path.stat().st_mtime_ns, shard.stat().st_mtime_ns) == stamps


def test_other_max_examples_in_the_same_data_dir_is_refused_naming_it(serialize, tmp_path):
    serialize()  # the quick config: max_examples=256
    before = (tmp_path / "records" / MANIFEST_NAME).read_text()
    with pytest.raises(SerializationMismatchError) as info:
        serialize(max_examples=None, allow_download=False)  # the default's max_examples
    err = info.value
    assert err.differences == {"dataset.max_examples": (256, None)}
    message = str(err)
    assert "dataset.max_examples=256 there, None in this run" in message
    assert "another dataset.data_dir" in message and "dataset.overwrite_records=True" in message
    assert "\n" not in message
    # Refused in the config hook: nothing was recorded, the records are untouched.
    assert _runs(tmp_path) == ["1"]
    assert (tmp_path / "records" / MANIFEST_NAME).read_text() == before


def test_the_default_config_after_quick_names_every_differing_entry(serialize, tmp_path):
    serialize()
    with pytest.raises(SerializationMismatchError) as info:
        serialize(max_examples=None, allow_download=True, samples_per_record=10000)
    assert info.value.differences == {
        "dataset.allow_download": (False, True),
        "dataset.max_examples": (256, None),
        "dataset.samples_per_record": (100, 10000),
    }


def test_overwrite_records_serializes_again_with_the_new_config(serialize, tmp_path):
    serialize()
    run = serialize(max_examples=50, overwrite_records=True)
    manifest = load_manifest(tmp_path / "records")
    assert {s: i.num_examples for s, i in manifest.splits.items()} == {"train": 50, "test": 50}
    assert manifest.source[SERIALIZATION_KEY]["max_examples"] == 50
    assert run.result == manifest.fingerprint == run.info["dataset"]["fingerprint"]
    # Shards of the earlier write that this one does not produce are gone.
    assert sorted(p.name for p in (tmp_path / "records").glob("*.tfrecord")) == [
        "test-00000.tfrecord",
        "train-00000.tfrecord",
    ]
    assert serialize(max_examples=50).result == run.result  # and is reused afterwards


def test_a_data_path_change_is_refused(serialize, tmp_path, npz_files):
    a, b = npz_files
    serialize(data_path=str(a))
    with pytest.raises(SerializationMismatchError) as info:
        serialize(data_path=str(b))
    assert set(info.value.differences) == {"dataset.data_path"}
    assert info.value.differences["dataset.data_path"] == (str(a.resolve()), str(b.resolve()))


def test_data_sha256_pins_the_file_and_the_run_records_its_hash(serialize, tmp_path, npz_files):
    a, b = npz_files
    _, sha_a = file_sha256(a)
    run = serialize(data_path=str(a), data_sha256=sha_a)
    assert run.info["dataset"]["source"]["sha256"] == sha_a
    assert run.info["dataset"]["name"] == "mnist"
    # Another file under the pin fails naming the file (it is the run's to fix).
    with pytest.raises(RecordError, match="b.npz"):
        serialize(data_dir=str(tmp_path / "other"), data_path=str(b), data_sha256=sha_a)
    assert not (tmp_path / "other" / MANIFEST_NAME).exists()


def test_a_data_path_rewritten_in_place_is_refused_naming_it(serialize, tmp_path, npz_files):
    a, b = npz_files
    first = serialize(data_path=str(a))
    a.write_bytes(b.read_bytes())  # the same path, other content
    with pytest.raises(SourceChangedError, match=f"the data file {a.resolve()} changed"):
        serialize(data_path=str(a))
    again = serialize(data_path=str(a), overwrite_records=True)
    assert again.info["dataset"]["replaced"]["fingerprint"] == first.result != again.result


def test_records_without_a_serialization_config_are_refused(serialize, tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MnistFallbackWarning)
        arrays, source = load_digits_as_mnist("test")
    write_records(
        tmp_path / "records",
        "{split}-{idx:05d}.tfrecord",
        mnist_keys_to_handlers(),
        100,
        {"train": 256, "test": 256},
        lambda split: mnist_rows(arrays, split),
        source=source,
        splits=("train", "test"),
        progress=False,
    )
    with pytest.raises(SerializationMismatchError, match="unrecorded") as info:
        serialize()
    assert "dataset.max_examples" in info.value.differences
    assert (
        serialize(overwrite_records=True).result == load_manifest(tmp_path / "records").fingerprint
    )


def test_print_config_works_whatever_the_records_hold(serialize, tmp_path):
    serialize()
    serialize("print_config", max_examples=10)  # only prints: never reads the records


def test_a_manifest_written_meanwhile_is_checked_again(serialize, tmp_path, monkeypatch):
    """`ensure_records` compares again at run time (records written after the config hook)."""
    from reproml.datasets import mnist_ingredient

    other = tmp_path / "other"
    serialize(data_dir=str(other), max_examples=20)
    real_hook = mnist_ingredient.records.check_records_reusable

    def copy_then_check(record_dir, wanted, path):  # the records land after the hook ran
        result = real_hook(record_dir, wanted, path)
        shutil.copytree(other, record_dir)
        return result

    monkeypatch.setattr(mnist_ingredient.records, "check_records_reusable", copy_then_check)
    with pytest.raises(SerializationMismatchError, match="dataset.max_examples=20 there"):
        serialize()


@pytest.mark.parametrize(
    ("entries", "entry"),
    [
        ({"data_dir": ""}, "dataset.data_dir"),
        ({"data_dir": "   "}, "dataset.data_dir"),
        ({"data_dir": None}, "dataset.data_dir"),
        ({"samples_per_record": 0}, "dataset.samples_per_record"),
        ({"max_examples": -3}, "dataset.max_examples"),
        ({"max_examples": 2.5}, "dataset.max_examples"),
        ({"compression": "zip"}, "dataset.compression"),
        ({"overwrite_records": "yes"}, "dataset.overwrite_records"),
        ({"allow_download": 1}, "dataset.allow_download"),
        ({"data_path": "/nonexistent/mnist.npz"}, "dataset.data_path"),
        ({"data_sha256": "abc"}, "dataset.data_sha256"),
    ],
)
def test_bad_dataset_entries_are_refused_naming_them(serialize, tmp_path, entries, entry):
    with pytest.raises(ConfigError) as info:
        serialize(**entries)
    assert info.value.entry == entry and repr(entry) in str(info.value)
    assert _runs(tmp_path) == []
    assert not (tmp_path / "records").exists()
    assert not list(Path.cwd().glob("*.tfrecord")) and not (Path.cwd() / MANIFEST_NAME).exists()


def test_data_dir_that_is_a_file_is_refused(serialize, tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(ConfigError, match="dataset.data_dir"):
        serialize(data_dir=str(tmp_path / "file"))
    assert _runs(tmp_path) == []
