"""A user's own multi-label experiment (outside experiments/, RGB label sets "red"/"blue"):
per-label metrics named by class, the threshold recorded, the SavedModel serves per-label
probabilities; a bad threshold is refused in one line."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from handlers.image import ImageArrayHandler
from handlers.sequence import MultiLabelHandler
from reproml.errors import ConfigError, DataContractError
from reproml.models.data_contract import classifier_params_from_manifest
from reproml.models.multilabel import check_threshold
from reproml.recipes.classifier import classifier_estimator
from reproml.records.manifest import load_manifest
from reproml.records.reader import input_fn
from reproml.records.writer import write_records

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow
LABELS = ("blue", "red")

EXPERIMENT = '''
"""Which shapes are in the picture: a red square, a blue circle, both or none."""
# ruff: noqa: F841
from sacred import Experiment

from reproml.models.multilabel import check_threshold
from reproml.records.manifest import load_manifest
from reproml.records.reader import input_fn
from reproml.tracking import experiment as rx
from reproml.recipes.classifier import classifier_estimator, report_classifier
from reproml.train.loop import train_and_evaluate

ex = rx.track(Experiment("shapes"))


@ex.config
def config():
    record_dir = None  # the label-set records
    threshold = 0.4  # a label is predicted at a sigmoid probability >= this
    steps = 40  # training steps
    seed = 5  # the run seed


@ex.config_hook
def check(config, command_name, logger):
    check_threshold(config["threshold"])
    return {}


@ex.main
def main(_run, record_dir, threshold, steps, seed):
    manifest = load_manifest(record_dir)
    params = {"network": "cnn", "filters": [8, 8, 8], "kernel_sizes": [3, 3, 3],
              "dense_units": 16, "dropout": 0.0, "lr": 1e-2, "threshold": threshold}
    estimator = classifier_estimator(_run, manifest, None, params, seed, 10)
    train = input_fn("train", 16, manifest, random_seed=seed)
    test = input_fn("test", 16, manifest, n_epochs=1)
    metrics = train_and_evaluate(_run, estimator, train, test, steps=steps,
                                 eval_every=steps, log_every=10)
    return report_classifier(_run, estimator, manifest, metrics, batch_size=16,
                             num_samples=8, export=True)


if __name__ == "__main__":
    rx.run_commandline(ex)
'''


def shapes_image(rng: np.random.Generator, red: bool, blue: bool) -> np.ndarray:
    """A 16x16 grey image with a red square (top left) and/or a blue disc (bottom right)."""
    image = rng.integers(100, 140, (16, 16, 3)).astype(np.uint8)
    if red:
        image[1:7, 1:7] = (230, 20, 20)
    if blue:
        yy, xx = np.mgrid[:16, :16]
        image[(yy - 11) ** 2 + (xx - 11) ** 2 <= 9] = (20, 20, 230)
    return image


@pytest.fixture(scope="module")
def shapes(tmp_path_factory):
    """Label-set records (48 train, 16 test; every subset of {red, blue} incl. the empty one)."""
    tmp = tmp_path_factory.mktemp("shapes")
    rng = np.random.default_rng(0)
    subsets = [(False, False), (True, False), (False, True), (True, True)]

    def rows(n):
        for i in range(n):
            red, blue = subsets[i % 4]
            labels = [name for name, on in zip(("red", "blue"), (red, blue), strict=True) if on]
            yield {"image": shapes_image(rng, red, blue), "label": labels}

    sizes = {"train": 48, "test": 16}
    write_records(
        tmp / "records",
        "{split}-{idx:05d}.tfrecord",
        {"image": ImageArrayHandler(shape=(16, 16, 3)), "label": MultiLabelHandler(LABELS)},
        samples_per_record=16,
        split_to_size=sizes,
        rows_gen=lambda split: rows(sizes[split]),
        splits=("train", "test"),
        num_workers=1,
        progress=False,
    )
    (tmp / "my_project").mkdir()
    (tmp / "my_project" / "shapes.py").write_text(EXPERIMENT)
    return tmp


def _shapes(tmp, *args):
    env = {**os.environ, "REPROML_RUNS_DIR": str(tmp / "runs"), "TF_CPP_MIN_LOG_LEVEL": "3"}
    env["PYTHONPATH"] = str(REPO)
    return subprocess.run(
        [sys.executable, "shapes.py", "with", f"record_dir={tmp / 'records'}", *args],
        cwd=tmp / "my_project",
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def test_the_manifest_makes_the_classifier_multi_label(shapes):
    assert classifier_params_from_manifest(shapes / "records") == {
        "image_shape": [16, 16, 3],
        "num_classes": 2,
        "class_names": ["blue", "red"],
        "multi_label": True,
    }


@pytest.mark.parametrize("threshold", [0, 1, 1.5, -0.2, True, "0.5", None, float("nan")])
def test_check_threshold_refuses_anything_but_a_probability_strictly_inside_0_1(threshold):
    with pytest.raises(ConfigError, match="config entry 'threshold'.*between 0 and 1"):
        check_threshold(threshold)


def test_check_threshold_takes_a_probability():
    assert check_threshold(0.25) == 0.25 and check_threshold(np.float32(0.5)) == 0.5


def test_a_label_set_decoded_as_ids_is_refused_by_the_classifier(tmp_path):
    write_records(
        tmp_path,
        "{split}-{idx:05d}.tfrecord",
        {
            "image": ImageArrayHandler(shape=(4, 4, 3)),
            "label": MultiLabelHandler(LABELS, decode_as="ids"),
        },
        samples_per_record=4,
        split_to_size={"train": 2},
        rows_gen=lambda split: (
            {"image": np.zeros((4, 4, 3), np.uint8), "label": ["red"]} for _ in range(2)
        ),
        splits=("train",),
        num_workers=1,
        progress=False,
    )
    with pytest.raises(DataContractError, match="decode_as='multi_hot'"):
        classifier_params_from_manifest(tmp_path)


def test_own_multilabel_experiment_records_per_label_metrics_and_serves_probabilities(shapes):
    import tensorflow as tf  # deferred: TensorFlow is heavy, only this test needs it

    proc = _shapes(shapes)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (run_dir,) = [path.parent for path in (shapes / "runs").glob("*/info.json")]
    info = json.loads((run_dir / "info.json").read_text())
    assert info["multi_label"] == {"labels": ["blue", "red"], "threshold": 0.4}
    # A main that loads its own manifest is bound to the records like the recipe's runs:
    # (before, info had no "dataset" and no shard was ever hashed).
    manifest = load_manifest(shapes / "records")
    assert info["dataset"]["fingerprint"] == manifest.fingerprint
    assert info["dataset"]["record_dir"] == str((shapes / "records").resolve())
    (read,) = info["records_read"]
    assert read["fingerprint"] == manifest.fingerprint and read["shards"] == 4
    assert read["verified"] == "sha256 of every shard before reading and when the run ended"
    config = json.loads((run_dir / "config.json").read_text())
    assert config["threshold"] == 0.4
    assert "test macro F1: " in proc.stdout and "model_summary" in info
    metrics = json.loads((run_dir / "metrics.json").read_text())
    for name in LABELS:
        for metric in ("precision", "recall", "average_precision"):
            assert f"eval.{metric}/{name}" in metrics
    assert not [key for key in metrics if "class_" in key]
    run = json.loads((run_dir / "run.json").read_text())
    assert "multilabel_pr.png" in run["artifacts"]
    assert (run_dir / "multilabel_pr.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(info["multilabel_pr"]) == sorted(LABELS)
    for scores in info["multilabel_pr"].values():
        assert scores["support"] == 8 and 0 <= scores["recall"] <= 1  # half the 16 test images
    final = {key: metrics[key]["values"][-1] for key in metrics}
    for key in ("eval.micro_f1", "eval.macro_f1", "eval.mAP", "eval.subset_accuracy"):
        assert 0.0 <= final[key] <= 1.0, key
    # the shapes are easy: 40 steps learn both labels well above chance
    assert final["eval.mAP"] > 0.8, final
    assert final["eval.macro_f1"] > 0.7, final

    serve = tf.saved_model.load(info["export_dir"]).signatures["serving_default"]
    rng = np.random.default_rng(1)
    images = np.stack(
        [shapes_image(rng, red, blue) for red, blue in [(True, False), (False, True)]]
    )
    out = serve(image=tf.constant(images))
    probabilities = out["probabilities"].numpy()
    assert probabilities.shape == (2, 2) and ((probabilities >= 0) & (probabilities <= 1)).all()
    assert probabilities[0, 1] > 0.5 > probabilities[0, 0]  # red square: "red" (column 1)
    assert probabilities[1, 0] > 0.5 > probabilities[1, 1]  # blue disc: "blue" (column 0)
    expected = (probabilities >= 0.4).astype(np.int64)
    np.testing.assert_array_equal(out["predicted"].numpy(), expected)
    assert out["embedding"].shape == (2, 16)


def test_own_experiment_refuses_a_changed_shard_of_the_records_it_loaded_itself(shapes, tmp_path):
    copy = tmp_path / "records"
    shutil.copytree(shapes / "records", copy)
    shard = copy / "train-00001.tfrecord"
    data = bytearray(shard.read_bytes())
    data[-1] ^= 0xFF  # same size, other content
    shard.write_bytes(bytes(data))
    proc = _shapes(shapes, f"record_dir={copy}")
    assert proc.returncode == 1, proc.stderr[-3000:]
    errors = [line for line in proc.stderr.splitlines() if "Error" in line]
    assert len(errors) == 1 and "Traceback" not in proc.stderr, proc.stderr[-3000:]
    assert errors[0].startswith(f"reproml.errors.RecordError: {shard}: has sha256 ")
    assert "train steps" not in proc.stderr  # refused before any training


def test_own_multilabel_experiment_refuses_a_bad_threshold_in_one_line(shapes):
    proc = _shapes(shapes, "threshold=1.5")
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode != 0 and len(lines) == 1, proc.stderr
    assert "config entry 'threshold'" in lines[0] and "between 0 and 1" in lines[0]
    assert "Traceback" not in proc.stderr


def test_class_weights_are_refused_for_a_label_set(shapes):
    manifest = load_manifest(shapes / "records")
    with pytest.raises(ConfigError, match="config entry 'class_weights'.*set of classes"):
        classifier_estimator(None, manifest, None, {"network": "cnn"}, 0, 1, "balanced")


def test_input_fn_yields_a_label_set_as_float32_multi_hot(shapes):
    test = input_fn("test", 4, shapes / "records", n_epochs=1, shuffle=False)
    features, labels = next(iter(test()))
    assert labels.dtype.name == "float32" and features["image"].shape == (4, 16, 16, 3)
    # rows cycle through none, red, blue, both; columns are ("blue", "red")
    np.testing.assert_array_equal(labels.numpy(), [[0, 0], [0, 1], [1, 0], [1, 1]])
