"""Records are bound to their source: a changed source, a class-dropping subset, another dataset.

Every case runs the ``serialize`` command (or ``main``) of `tests.integrity.source_experiment`,
a dataset ingredient over real small data written here: an RGB image folder of 4 classes whose
rows come class by class, an npz and an HDF5 file.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
from PIL import Image

from reproml.errors import SerializationMismatchError, SourceChangedError
from reproml.records.manifest import MANIFEST_NAME, load_manifest
from reproml.records.source_fingerprint import FILE_HASHES_KEY
from reproml.tracking.experiment import run_summary
from tests.integrity.source_experiment import ex

REPO = Path(__file__).resolve().parents[2]
# Rows come class by class: the first 20 train rows are all "checker".
TRAIN = {"checker": 30, "circle": 20, "cross": 15, "stripe": 10}
TEST = {"checker": 5, "circle": 5, "cross": 5, "stripe": 5}


def write_png(path, seed):
    """An 8x8 RGB PNG stored uncompressed: every image has the same size in bytes."""
    pixels = np.random.default_rng(seed).integers(0, 256, (8, 8, 3), dtype=np.uint8)
    Image.fromarray(pixels, mode="RGB").save(path, compress_level=0)


@pytest.fixture
def folder(tmp_path):
    """``shapes/{train,test}/<class>/img<i>.png``, RGB 8x8, the class counts above."""
    root = tmp_path / "shapes"
    seed = 0
    for split, counts in (("train", TRAIN), ("test", TEST)):
        for name, count in counts.items():
            (root / split / name).mkdir(parents=True)
            for i in range(count):
                seed += 1
                write_png(root / split / name / f"img{i:02d}.png", seed)
    return root


def arrays(seed, n_train=24, n_test=9):
    rng = np.random.default_rng(seed)
    return {
        "x_train": rng.integers(0, 256, (n_train, 8, 8, 3), dtype=np.uint8),
        "y_train": np.arange(n_train) % 3,
        "x_test": rng.integers(0, 256, (n_test, 8, 8, 3), dtype=np.uint8),
        "y_test": np.arange(n_test) % 3,
    }


def write_h5(path, data):
    with h5py.File(path, "w") as f:
        for split in ("train", "test"):
            f[f"{split}/x"] = data[f"x_{split}"]
            f[f"{split}/y"] = data[f"y_{split}"]


@pytest.fixture
def serialize(tmp_path, monkeypatch):
    """``serialize(command="serialize", **dataset_entries)`` -> the Sacred run."""
    monkeypatch.setenv("REPROML_RUNS_DIR", str(tmp_path / "runs"))

    def run(command="serialize", **entries):
        entries.setdefault("data_dir", str(tmp_path / "records"))
        entries["data_path"] = str(entries["data_path"])
        return ex.run(command, config_updates={f"dataset.{k}": v for k, v in entries.items()})

    return run


@pytest.fixture
def cli(capsys):
    """Run ``reproml ARGS`` in-process; return (exit code, stdout, stderr)."""
    from reproml.cli.main import main

    def invoke(*args):
        code = main([str(a) for a in args])
        out, err = capsys.readouterr()
        return code, out, err

    return invoke


def _recorded_runs(tmp_path):
    runs = tmp_path / "runs"
    return sorted(p.name for p in runs.iterdir() if p.name.isdigit()) if runs.exists() else []


# --------------------------------------------------------------------- a changed image folder


def test_an_image_added_to_the_folder_is_refused_naming_it(serialize, folder, tmp_path):
    serialize(data_path=folder)
    manifest_text = (tmp_path / "records" / MANIFEST_NAME).read_text()
    write_png(folder / "train" / "circle" / "new.png", 999)
    with pytest.raises(SourceChangedError) as info:
        serialize(data_path=folder)
    message = str(info.value)
    assert "1 file added" in message and str(folder / "train" / "circle" / "new.png") in message
    assert "dataset 'shapes'" in message and "dataset.overwrite_records=True" in message
    assert "\n" not in message
    # Refused in the config hook: nothing recorded, the records untouched.
    assert _recorded_runs(tmp_path) == ["1"]
    assert (tmp_path / "records" / MANIFEST_NAME).read_text() == manifest_text
    # The way out it names: serialized again, the new file in the records and the hashes.
    run = serialize(data_path=folder, overwrite_records=True)
    manifest = load_manifest(tmp_path / "records")
    assert manifest.splits["train"].num_examples == sum(TRAIN.values()) + 1
    assert "circle/new.png" in manifest.source[FILE_HASHES_KEY]["train"]
    assert run.info["dataset"]["fingerprint"] == manifest.fingerprint
    assert serialize(data_path=folder).result == manifest.fingerprint  # reused from now on


def test_an_image_changed_in_place_same_size_is_refused_naming_it(serialize, folder):
    serialize(data_path=folder)
    changed = folder / "test" / "cross" / "img03.png"
    size = changed.stat().st_size
    write_png(changed, 12345)  # other pixels, the same name and the same size
    assert changed.stat().st_size == size
    with pytest.raises(SourceChangedError, match=r"1 file changed \(.*cross/img03\.png\)"):
        serialize(data_path=folder)


def test_images_removed_are_named_with_their_count(serialize, folder):
    serialize(data_path=folder)
    for i in range(5):
        (folder / "train" / "checker" / f"img{i:02d}.png").unlink()
    with pytest.raises(SourceChangedError) as info:
        serialize(data_path=folder)
    message = str(info.value)
    assert "5 files removed" in message and "and 2 more" in message
    assert "checker/img00.png" in message
    assert info.value.change.count(".png") == 3  # the first three by name, then the count


@pytest.mark.parametrize("suffix", [".npz", ".h5"])
def test_a_data_file_with_other_content_is_refused_naming_it(serialize, tmp_path, suffix):
    path = tmp_path / f"data{suffix}"
    write = (lambda p, d: np.savez(p, **d)) if suffix == ".npz" else write_h5
    write(path, arrays(0))
    serialize(data_path=path, name="blobs")
    write(path, arrays(1))  # the same path and layout, other pixels
    with pytest.raises(SourceChangedError) as info:
        serialize(data_path=path, name="blobs")
    assert f"the data file {path} changed" in str(info.value)
    assert "dataset 'blobs'" in str(info.value)
    run = serialize(data_path=path, name="blobs", overwrite_records=True)
    assert run.info["dataset"]["replaced"]["source"] == str(path.resolve())
    assert run.info["dataset"]["replaced"]["fingerprint"] != run.info["dataset"]["fingerprint"]


def test_an_unchanged_source_is_reused_without_rewriting(serialize, folder, tmp_path):
    first = serialize(data_path=folder)
    stamp = (tmp_path / "records" / MANIFEST_NAME).stat().st_mtime_ns
    again = serialize(data_path=folder)
    assert again.result == first.result
    assert (tmp_path / "records" / MANIFEST_NAME).stat().st_mtime_ns == stamp
    # The per-file hashes stay in the manifest (a resource of the run), not in the run's info.
    assert FILE_HASHES_KEY not in again.info["dataset"]["source"]


# --------------------------------------------------------------------- max_examples


def test_max_examples_keeps_every_class_in_proportion_and_is_deterministic(
    serialize, folder, tmp_path
):
    run = serialize(data_path=folder, max_examples=20)
    manifest = load_manifest(tmp_path / "records")
    # 20 of 75 by share: 8.0, 5.33, 4.0, 2.67 -> 8, 5, 4, 2 + the largest remainder (stripe).
    expected = {"checker": 8, "circle": 5, "cross": 4, "stripe": 3}
    assert manifest.splits["train"].label_histogram == {"label": expected}
    assert manifest.splits["test"].label_histogram == {"label": TEST}  # 20 of 20: all
    subset = manifest.source["subset"]
    assert subset["examples_per_class"] == {"train": expected, "test": TEST}
    assert (subset["seed"], subset["max_examples"], subset["classes_missing"]) == (0, 20, {})
    assert "stratified" in subset["method"]
    assert run.info["dataset"]["examples_per_class"]["train"] == expected
    for name, count in expected.items():
        assert abs(count - 20 * TRAIN[name] / 75) < 1
    # The same subset every time; another seed draws other rows of each class.
    same = serialize(data_path=folder, max_examples=20, data_dir=str(tmp_path / "again"))
    assert same.result == run.result
    other = serialize(
        data_path=folder, max_examples=20, subset_seed=1, data_dir=str(tmp_path / "seed1")
    )
    assert other.result != run.result
    assert load_manifest(tmp_path / "seed1").splits["train"].label_histogram == {"label": expected}


def test_a_split_missing_a_class_is_one_warning_recorded(serialize, folder, tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="reproml"):
        run = serialize(data_path=folder, max_examples=3)
    warnings = [r.getMessage() for r in caplog.records if "has no examples of" in r.getMessage()]
    assert len(warnings) == 2, warnings  # one line per split
    assert all("1 class(es)" in line and "\n" not in line for line in warnings)
    missing = run.info["dataset"]["classes_missing"]
    assert set(missing) == {"train", "test"} and all(len(v) == 1 for v in missing.values())
    assert load_manifest(tmp_path / "records").source["subset"]["classes_missing"] == missing


def test_show_and_the_run_summary_print_the_examples_per_class(serialize, folder, tmp_path, cli):
    run = serialize("main", data_path=folder, max_examples=20)
    summary = "\n".join(run_summary(run))
    assert "examples per class, train: checker 8, circle 5, cross 4, stripe 3" in summary
    assert "examples per class, test: checker 5, circle 5, cross 5, stripe 5" in summary
    code, out, err = cli("--store", str(tmp_path / "runs"), "show", str(run._id))
    assert code == 0, err
    # "  examples train    checker 8, ..." -> {"train": "checker 8, ..."}
    shown = dict(
        line.split(None, 2)[1:] for line in out.splitlines() if line.startswith("  examples ")
    )
    assert shown["train"] == "checker 8, circle 5, cross 4, stripe 3", out
    assert shown["test"] == "checker 5, circle 5, cross 5, stripe 5"
    assert "source.subset.max_examples" in out


def test_show_warns_of_a_split_missing_a_class(serialize, folder, tmp_path, cli):
    run = serialize("main", data_path=folder, max_examples=3)
    assert sum("WARNING: split" in line for line in run_summary(run)) == 2
    code, out, _ = cli("--store", str(tmp_path / "runs"), "show", str(run._id))
    assert code == 0 and out.count("has no examples of 1 class(es)") == 2


# --------------------------------------------------------------------- another dataset's records


def test_the_refusal_names_whose_records_they_are(serialize, folder, tmp_path):
    shapes = serialize(data_path=folder)
    path = tmp_path / "blobs.npz"
    np.savez(path, **arrays(0))
    with pytest.raises(SerializationMismatchError) as info:
        serialize(data_path=path, name="blobs")
    message = str(info.value)
    owner = f"dataset 'shapes', from train {folder / 'train'}, test {folder / 'test'}"
    assert f"these records ({owner}, fingerprint {shapes.result[:12]})" in message
    assert message.index("dataset 'shapes'") < message.index("overwrite_records=True")
    assert "\n" not in message


def test_overwriting_another_datasets_records_is_logged_and_recorded(
    serialize, folder, tmp_path, caplog
):
    shapes = serialize(data_path=folder)
    path = tmp_path / "blobs.npz"
    np.savez(path, **arrays(0))
    with caplog.at_level(logging.WARNING, logger="reproml"):
        blobs = serialize(data_path=path, name="blobs", overwrite_records=True)
    lines = [r.getMessage() for r in caplog.records if "replaces the records" in r.getMessage()]
    assert len(lines) == 1 and "dataset 'shapes'" in lines[0] and shapes.result[:12] in lines[0]
    replaced = blobs.info["dataset"]["replaced"]
    assert (replaced["name"], replaced["fingerprint"]) == ("shapes", shapes.result)
    assert replaced["serialization"]["data_path"] == str(folder.resolve())
    recorded = json.loads((tmp_path / "runs" / str(blobs._id) / "info.json").read_text())
    assert recorded["dataset"]["replaced"]["fingerprint"] == shapes.result


@pytest.mark.slow
def test_a_changed_source_is_one_line_on_the_command_line(folder, tmp_path):
    """As a user sees it: exit 1, one line on stderr naming the file, no traceback, no run."""
    env = {**os.environ, "REPROML_RUNS_DIR": str(tmp_path / "runs"), "TF_CPP_MIN_LOG_LEVEL": "3"}
    env["PYTHONPATH"] = str(REPO)
    args = [
        sys.executable,
        "-m",
        "tests.integrity.source_experiment",
        "serialize",
        "with",
        f"dataset.data_path={folder}",
        f"dataset.data_dir={tmp_path / 'records'}",
    ]

    def run():
        return subprocess.run(
            args, cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False
        )

    assert run().returncode == 0
    (folder / "test" / "stripe" / "img01.png").unlink()
    proc = run()
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    (line,) = [ln for ln in proc.stderr.splitlines() if "SourceChangedError" in ln]
    assert line.startswith("reproml.errors.SourceChangedError: ")
    assert f"1 file removed ({folder / 'test' / 'stripe' / 'img01.png'})" in line
    assert proc.stderr.strip() == line
    assert _recorded_runs(tmp_path) == ["1"]
