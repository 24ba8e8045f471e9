"""A user's project outside reproml: its own experiment file, Keras network and PNG folder.

`make_user_project` writes a git checkout holding ``experiments/colours.py`` (a Sacred experiment
that trains the reproml classifier with the project's own Keras network, or a
``tf.keras.applications`` backbone when ``backbone`` is set), 3 classes of 16x16 RGB PNGs
made with PIL, and their records (train and test splits). It runs as a user runs it: a
subprocess from the checkout, ``PYTHONPATH`` holding only the reproml checkout.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from handlers.image import ImageArrayHandler, ImageFileHandler
from handlers.label import ClassLabelHandler
from reproml.records.writer import write_records
from tests.integrity.project import Project, git

CLASSES = ("red", "green", "blue")
SIDE = 32  # the smallest input MobileNetV2 takes

EXPERIMENT = '''"""Colour classifier: my own Keras network (or a keras.applications backbone) on my PNGs."""

import tensorflow as tf
from sacred import Experiment

from reproml.records.manifest import load_manifest
from reproml.records.reader import input_fn
from reproml.tracking import experiment as rx
from reproml.recipes.classifier import classifier_estimator, report_classifier
from reproml.tracking.recording import record_dataset
from reproml.train.loop import train_and_evaluate

ex = rx.track(Experiment("colours"))


@ex.config
def config():
    record_dir = ""  # records of the PNG folder (train and test splits)
    steps = 4  # training steps
    lr = 0.01  # learning rate
    backbone = None  # a keras.applications backbone instead of my_network (dict)
    init_from = None  # a run id to warm-start from (its best checkpoint)
    seed = 5  # Sacred's seed, also the graph seed


def my_network(params):
    """My own network: features [B, 8] of an RGB image."""
    return tf.keras.Sequential(
        [
            tf.keras.layers.Conv2D(4, 3, activation="relu", name="conv"),
            tf.keras.layers.BatchNormalization(name="bn"),
            tf.keras.layers.GlobalAveragePooling2D(name="pool"),
            tf.keras.layers.Dense(8, activation="relu", name="features"),
            tf.keras.layers.Dropout(0.25, name="drop"),
        ],
        name="my_network",
    )


@ex.main
def main(_run, record_dir, steps, lr, backbone, init_from, seed):
    record_dataset(_run, record_dir, "colours")
    manifest = load_manifest(record_dir)
    if backbone:
        params = dict(network="backbone", backbone=dict(backbone), lr=lr)
    else:
        params = dict(network=my_network, lr=lr)
    estimator = classifier_estimator(
        _run, manifest, None, params, seed, log_every=2, init_from=init_from
    )
    metrics = train_and_evaluate(
        _run,
        estimator,
        input_fn("train", 6, manifest, random_seed=seed),
        input_fn("test", 6, manifest, n_epochs=1),
        steps=steps,
        eval_every=steps,
        log_every=2,
        best_metric="accuracy",
    )
    best = (_run.info.get("best_checkpoint") or {}).get("path")
    return report_classifier(
        _run, estimator, manifest, metrics, batch_size=6, num_samples=4, checkpoint=best,
        export=True,
    )


if __name__ == "__main__":
    rx.run_commandline(ex)
'''


def write_png_folder(folder: Path, per_class: int, seed: int) -> list[dict]:
    """Write ``folder/<class>/<i>.png`` (noisy RGB, the class's channel brightest); return rows."""
    rng = np.random.RandomState(seed)
    rows = []
    for label, name in enumerate(CLASSES):
        (folder / name).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            pixels = rng.randint(0, 100, (SIDE, SIDE, 3)).astype(np.uint8)
            pixels[..., label] += 120
            path = folder / name / f"{i}.png"
            Image.fromarray(pixels, "RGB").save(path)
            rows.append({"image": str(path), "label": name})
    return rows


def make_user_project(root: Path) -> Project:
    """Write and commit the colours project under ``root/repo``; its records in ``root/records``."""
    repo = root / "repo"
    (repo / "experiments").mkdir(parents=True)
    (repo / "experiments" / "__init__.py").write_text("")
    (repo / "experiments" / "colours.py").write_text(EXPERIMENT)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "config", "user.name", "Tester")
    git(repo, "config", "user.email", "tester@example.com")
    git(repo, "add", "experiments")
    git(repo, "commit", "-q", "-m", "colours experiment")
    rows = {
        "train": write_png_folder(root / "pngs" / "train", 4, 0),
        "test": write_png_folder(root / "pngs" / "test", 2, 1),
    }
    record_dir = root / "records"
    write_records(
        record_dir,
        "{split}-{idx:05d}.tfrecord",
        {
            "image": ImageFileHandler(ImageArrayHandler(shape=(SIDE, SIDE, 3)), mode="RGB"),
            "label": ClassLabelHandler(names=CLASSES),
        },
        samples_per_record=8,
        split_to_size={split: len(r) for split, r in rows.items()},
        rows_gen=lambda split: iter(rows[split]),
        splits=tuple(rows),
        num_workers=1,
        progress=False,
    )
    return Project(repo, root / "runs", record_dir)


def run_colours(project: Project, *config: str, **env: str) -> subprocess.CompletedProcess:
    """``python -m experiments.colours with record_dir=... CONFIG`` in the project's checkout.

    `env` adds environment variables (e.g. ``REPROML_MONGO_URL``: record into MongoDB too).
    """
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "experiments.colours",
            "with",
            f"record_dir={project.record_dir}",
            *config,
        ],
        cwd=project.repo,
        env=project.env(**env),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
