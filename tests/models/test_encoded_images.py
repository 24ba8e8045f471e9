"""The classifier trains on encoded JPEGs of mixed sizes and modes, decoded in its input_fn.

The manifest's encoded-image spec (uint8 [H, W, C] after the size policy) is what the data
contract reads, so nothing about the model changes: 2 steps, then evaluation of every example.
"""

import numpy as np
import pytest
from PIL import Image

from handlers import ClassLabelHandler, EncodedImageHandler
from reproml.models.classifier import make_classifier
from reproml.models.data_contract import classifier_params_from_manifest
from reproml.records.reader import input_fn
from reproml.records.writer import write_records
from tests.models.conftest import TINY_CLASSIFIER

pytestmark = pytest.mark.slow

NETWORK = {k: v for k, v in TINY_CLASSIFIER.items() if k not in ("image_shape", "num_classes")}
NAMES = ("banana", "fig")


def test_classifier_trains_and_evaluates_on_encoded_jpegs_of_mixed_sizes(tmp_path):
    rng = np.random.default_rng(0)
    rows = {"train": [], "eval": []}
    for i in range(30):
        split = "train" if i < 20 else "eval"
        shape = (20 + 3 * (i % 4), 24 + 5 * (i % 3)) + (() if i % 5 == 0 else (3,))
        path = tmp_path / f"{i}.jpg"
        Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8)).save(path)
        rows[split].append({"image": path, "label": NAMES[int(i % 7 == 0)]})
    write_records(
        tmp_path / "records",
        "{split}-{idx:03d}.tfrecord",
        {"image": EncodedImageHandler(size=(24, 24)), "label": ClassLabelHandler(names=NAMES)},
        samples_per_record=8,
        split_to_size={s: len(r) for s, r in rows.items()},
        rows_gen=lambda split: rows[split],
        progress=False,
    )
    params = classifier_params_from_manifest(tmp_path / "records")
    assert params == {"image_shape": [24, 24, 3], "num_classes": 2, "class_names": list(NAMES)}
    estimator = make_classifier(tmp_path / "model", {**NETWORK, "lr": 0.01, **params}, seed=0)
    estimator.train(input_fn("train", 8, tmp_path / "records", random_seed=0), steps=2)
    assert estimator.get_variable_value("global_step") == 2
    metrics = estimator.evaluate(input_fn("eval", 4, tmp_path / "records", n_epochs=1))
    assert metrics["confusion_matrix"].sum() == 10
