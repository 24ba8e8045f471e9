"""A user's own experiment file (outside experiments/, RGB fruit records, 20:1 imbalance) with
``augment`` and ``class_weights``: both recorded, the grid an artifact, a bad entry one line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from handlers.image import ImageArrayHandler
from handlers.label import ClassLabelHandler
from reproml.records.writer import write_records

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow

EXPERIMENT = '''
"""Fruit classifier on my own records, augmented and class-weighted."""
# ruff: noqa: F841
from sacred import Experiment

from reproml.models.class_weights import check_class_weights_policy
from reproml.records.augment import check_augment
from reproml.records.manifest import load_manifest
from reproml.records.reader import input_fn
from reproml.tracking import experiment as rx
from reproml.recipes.classifier import classifier_estimator, classifier_train_input_fn
from reproml.train.loop import train_and_evaluate

ex = rx.track(Experiment("fruit"))


@ex.config
def config():
    record_dir = None  # the fruit records
    augment = {"flip_left_right": True, "random_crop": 2, "rotate": 10, "hue": 0.05}  # per example
    class_weights = "balanced"  # the training loss's class weights
    seed = 3  # the run seed


@ex.config_hook
def check(config, command_name, logger):
    check_augment(config["augment"])
    check_class_weights_policy(config["class_weights"])
    return {}


@ex.main
def main(_run, record_dir, augment, class_weights, seed):
    manifest = load_manifest(record_dir)
    params = {"network": "cnn", "filters": [4, 4, 4], "kernel_sizes": [3, 3, 3],
              "dense_units": 8, "dropout": 0.0}
    estimator = classifier_estimator(_run, manifest, None, params, seed, 1,
                                     class_weights=class_weights)
    train = classifier_train_input_fn(_run, estimator, manifest, 8, augment=augment,
                                      seed=seed, num_samples=8)
    test = input_fn("test", 8, manifest, n_epochs=1)
    metrics = train_and_evaluate(_run, estimator, train, test, steps=2, eval_every=2,
                                 log_every=1)
    return float(metrics["accuracy"])


if __name__ == "__main__":
    rx.run_commandline(ex)
'''


@pytest.fixture(scope="module")
def fruit(tmp_path_factory):
    """RGB 16x16 records: 40 banana vs 2 fig in train (20:1), and the experiment file."""
    tmp = tmp_path_factory.mktemp("fruit")
    rng = np.random.default_rng(0)
    colours = {0: (230, 200, 40), 1: (90, 40, 110)}  # banana yellow, fig purple

    def rows(labels):
        for label in labels:
            noise = rng.integers(-30, 30, (16, 16, 3))
            image = np.clip(np.array(colours[label]) + noise, 0, 255).astype(np.uint8)
            yield {"image": image, "label": label}

    labels = {"train": [0] * 40 + [1] * 2, "test": [0, 1] * 4}
    write_records(
        tmp / "records",
        "{split}-{idx:05d}.tfrecord",
        {
            "image": ImageArrayHandler(shape=(16, 16, 3)),
            "label": ClassLabelHandler(names=["banana", "fig"]),
        },
        samples_per_record=16,
        split_to_size={split: len(v) for split, v in labels.items()},
        rows_gen=lambda split: rows(labels[split]),
        splits=("train", "test"),
        num_workers=1,
        progress=False,
    )
    (tmp / "my_project").mkdir()
    (tmp / "my_project" / "fruit.py").write_text(EXPERIMENT)
    return tmp


def _fruit(tmp, *args):
    env = {**os.environ, "REPROML_RUNS_DIR": str(tmp / "runs"), "TF_CPP_MIN_LOG_LEVEL": "3"}
    env["PYTHONPATH"] = str(REPO)
    return subprocess.run(
        [sys.executable, "fruit.py", "with", f"record_dir={tmp / 'records'}", *args],
        cwd=tmp / "my_project",
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def test_own_experiment_records_augment_and_class_weights(fruit):
    proc = _fruit(fruit)
    assert proc.returncode == 0, proc.stderr[-2000:]
    (run_dir,) = [path.parent for path in (fruit / "runs").glob("*/info.json")]
    info = json.loads((run_dir / "info.json").read_text())
    assert info["augment"]["order"] == ["flip_left_right", "random_crop", "rotate", "hue"]
    assert info["augment"]["ops"]["rotate"] == 10
    assert info["augment"]["seed"] == 3
    assert info["class_weights"]["policy"] == "balanced"
    assert info["class_weights"]["train_counts"] == {"banana": 40, "fig": 2}
    assert info["class_weights"]["weights"] == pytest.approx({"banana": 0.525, "fig": 10.5})
    assert (run_dir / "augmented_train.png").read_bytes()[:4] == b"\x89PNG"
    record = json.loads((run_dir / "run.json").read_text())
    assert record["status"] == "COMPLETED" and "augmented_train.png" in record["artifacts"]


@pytest.mark.parametrize(
    ("update", "entry"),
    [
        ("augment.spin=True", "augment"),
        ("augment.rotate=90", "augment.rotate"),
        ("class_weights=balance", "class_weights"),
    ],
)
def test_own_experiment_refuses_a_bad_entry_in_one_line(fruit, update, entry):
    proc = _fruit(fruit, update)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode != 0 and len(lines) == 1, proc.stderr
    assert f"config entry {entry!r}" in lines[0] and "Traceback" not in proc.stderr
