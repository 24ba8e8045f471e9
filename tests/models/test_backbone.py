"""A tf.keras.applications backbone (MobileNetV2, alpha 0.35, 32x32 RGB) fine-tuned from a
weights file made in the test; weights downloaded from a local HTTP server (sha256 pinned)."""

from __future__ import annotations

import functools
import http.server
import re
import threading
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from handlers.image import ImageArrayHandler
from handlers.label import ClassLabelHandler
from reproml.errors import ChecksumMismatchError, ConfigError, RecordError
from reproml.models.classifier import make_classifier, network_layer_summary
from reproml.models.networks.backbone import backbone_settings
from reproml.models.weights_file import read_weights_file
from reproml.records.file_hash import file_sha256
from reproml.records.reader import input_fn
from reproml.tracking.backbone_weights import (
    fetch_weights,
    resolve_backbone_weights,
    save_backbone_weights,
)
from tests.models.conftest import write_image_records

SHAPE = (32, 32, 3)
DATA = {"image_shape": list(SHAPE), "num_classes": 3}
MOBILENET = {"name": "MobileNetV2", "alpha": 0.35}


class FakeRun:
    """Stands in for the Sacred run where only ``info`` is written."""

    def __init__(self) -> None:
        self.info: dict = {}


@pytest.fixture(scope="module")
def rgb_records(tmp_path_factory):
    """12 train + 6 eval noisy RGB images; the brightest channel is the label."""
    rng = np.random.RandomState(0)

    def rows(n):
        out = []
        for i in range(n):
            image = rng.randint(0, 100, SHAPE).astype(np.uint8)
            image[..., i % 3] += 120
            out.append({"image": image, "label": i % 3})
        return out

    handlers = {"image": ImageArrayHandler(shape=SHAPE), "label": ClassLabelHandler(num_classes=3)}
    return write_image_records(
        tmp_path_factory.mktemp("rgb32"), handlers, {"train": rows(12), "eval": rows(6)}, 6
    )


@pytest.fixture(scope="module")
def weights_file(tmp_path_factory) -> Path:
    """MobileNetV2 (alpha 0.35, 32x32) weights saved by Keras itself (random, not ImageNet)."""
    tf.keras.utils.set_random_seed(3)
    model = tf.keras.applications.MobileNetV2(
        input_shape=SHAPE, alpha=0.35, include_top=False, weights=None, pooling="avg"
    )
    path = tmp_path_factory.mktemp("weights") / "mobilenet.h5"
    model.save_weights(str(path))
    return path


def _checkpoint(estimator, step: int | None = None) -> dict[str, np.ndarray]:
    """The variables of the latest checkpoint, or of the one saved at global step `step`."""
    path = estimator.latest_checkpoint()
    if step is not None:
        path = str(Path(estimator.model_dir) / f"model.ckpt-{step}")
    reader = tf.train.load_checkpoint(path)
    return {name: reader.get_tensor(name) for name in reader.get_variable_to_shape_map()}


def _fine_tune(model_dir, records, backbone, steps, **run_config):
    params = {**DATA, "network": "backbone", "backbone": backbone, "lr": 0.05}
    estimator = make_classifier(model_dir, params, seed=1, **run_config)
    estimator.train(input_fn("train", 6, records, random_seed=0), max_steps=steps)
    return estimator


@pytest.fixture(scope="module")
def fine_tuned(rgb_records, weights_file, tmp_path_factory):
    """Fine-tune from the weights file to step 5 (top 2 layers from step 2), one training that
    also saves a checkpoint at step 2 (a training building MobileNetV2 takes ~20 s here).

    Returns the estimator and its checkpoints' variables at steps 2 and 5.
    """
    sha = file_sha256(weights_file)[1]
    backbone = {**MOBILENET, "weights": str(weights_file), "weights_sha256": sha}
    backbone.update(unfreeze_top=2, unfreeze_at_step=2)
    model_dir = tmp_path_factory.mktemp("fine_tuned")
    estimator = _fine_tune(model_dir, rgb_records, backbone, steps=5, save_checkpoints_steps=2)
    assert estimator.latest_checkpoint().endswith("model.ckpt-5")
    return estimator, _checkpoint(estimator, step=2), _checkpoint(estimator)


@pytest.mark.slow
def test_weights_load_frozen_layers_stay_and_top_layers_unfreeze_at_step(fine_tuned, weights_file):
    _, before, after = fine_tuned
    saved = read_weights_file(weights_file, None)
    # a frozen layer holds the file's values; the top 2 layers with weights (Conv_1,
    # Conv_1_bn) are the file's until step 2, then fine-tuned; the head trains from step 0
    assert np.array_equal(after["Conv1/kernel"], saved["Conv1"][0])
    assert np.array_equal(after["block_16_project/kernel"], saved["block_16_project"][0])
    assert np.array_equal(before["Conv_1/kernel"], saved["Conv_1"][0])
    assert not np.array_equal(after["Conv_1/kernel"], saved["Conv_1"][0])
    assert not np.array_equal(after["Conv_1_bn/gamma"], saved["Conv_1_bn"][0])
    assert not np.array_equal(before["logits/kernel"], after["logits/kernel"])


@pytest.mark.slow
def test_weights_saved_from_a_run_are_a_valid_weights_file(fine_tuned, rgb_records, tmp_path):
    estimator, _, trained = fine_tuned
    out = tmp_path / "from_run.h5"
    sha = save_backbone_weights(estimator.params, estimator.latest_checkpoint(), out)
    assert sha == file_sha256(out)[1]
    saved = read_weights_file(out, sha)
    assert np.array_equal(saved["Conv_1_bn"][0], trained["Conv_1_bn/gamma"])
    follow_up = {**MOBILENET, "weights": str(out), "weights_sha256": sha}
    second = _checkpoint(_fine_tune(tmp_path / "next", rgb_records, follow_up, steps=1))
    assert np.array_equal(second["Conv_1_bn/gamma"], trained["Conv_1_bn/gamma"])
    assert np.array_equal(second["Conv_1/kernel"], trained["Conv_1/kernel"])


def test_other_weights_than_pinned_are_refused_naming_file_and_both_hashes(weights_file, tmp_path):
    run = FakeRun()
    params = {**DATA, "network": "backbone"}
    wrong = "0" * 64
    params["backbone"] = {**MOBILENET, "weights": str(weights_file), "weights_sha256": wrong}
    actual = file_sha256(weights_file)[1]
    with pytest.raises(RecordError) as err:
        resolve_backbone_weights(run, params)
    assert str(err.value) == (
        f"{weights_file}: weights file has sha256 {actual}, backbone.weights_sha256 says {wrong}"
    )
    assert run.info == {}
    params["backbone"] = {**MOBILENET, "weights": str(weights_file)}
    resolved = resolve_backbone_weights(run, params)
    assert resolved["backbone"]["weights_sha256"] == actual
    assert run.info["backbone_weights"] == {
        "file": str(weights_file),
        "sha256": actual,
        "url": None,
    }


@pytest.fixture
def weights_server(weights_file):
    """An HTTP server on 127.0.0.1 serving the weights file's folder (stopped after)."""
    handler = functools.partial(
        http.server.SimpleHTTPRequestHandler, directory=str(weights_file.parent)
    )
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/{weights_file.name}"
    server.shutdown()
    server.server_close()


def test_weights_url_is_downloaded_once_pinned_and_a_wrong_hash_is_refused(
    weights_server, weights_file, tmp_path
):
    sha = file_sha256(weights_file)[1]
    cache = tmp_path / "cache"
    wrong = "f" * 64
    with pytest.raises(ChecksumMismatchError, match=f"has sha256 {sha}, expected {wrong}"):
        fetch_weights(weights_server, wrong, cache)
    assert not any(cache.rglob("*.h5"))  # nothing cached
    run = FakeRun()
    params = {**DATA, "network": "backbone"}
    params["backbone"] = {**MOBILENET, "weights_url": weights_server, "weights_sha256": sha}
    resolved = resolve_backbone_weights(run, params, cache)
    cached = Path(resolved["backbone"]["weights"])
    assert cached.read_bytes() == weights_file.read_bytes()
    assert run.info["backbone_weights"] == {
        "file": str(cached),
        "sha256": sha,
        "url": weights_server,
    }
    unreachable = f"http://127.0.0.1:1/{weights_file.name}"  # nothing listens on port 1
    assert fetch_weights(unreachable, sha, cache) == cached  # the cache, no download


@pytest.mark.parametrize(
    ("backbone", "image_shape", "message"),
    [
        ({"name": "VGG16"}, SHAPE, "'backbone.name': expected one of ['EfficientNetB0', "),
        ({"name": "ResNet50", "weights_url": "http://127.0.0.1/w.h5"}, SHAPE,
         "'backbone.weights_sha256': expected the sha256 of the file at backbone.weights_url"),
        ({"name": "ResNet50", "weights_sha256": "abc"}, SHAPE, "a sha256 of 64 hex digits"),
        ({"name": "ResNet50", "freeze": 3}, SHAPE, "'backbone.freeze': expected one of"),
        ({"name": "ResNet50", "unfreeze_top": -1}, SHAPE, "'backbone.unfreeze_top'"),
        ({"name": "EfficientNetB0"}, (32, 32, 1), "'image_shape': expected RGB [H, W, 3]"),
    ],
)  # fmt: skip
def test_bad_backbone_settings_are_refused_naming_the_entry(backbone, image_shape, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        backbone_settings({"backbone": backbone, "image_shape": list(image_shape)})


@pytest.mark.slow
@pytest.mark.parametrize("name", ["ResNet50", "EfficientNetB0"])
def test_other_families_build_with_their_own_preprocessing(name):
    params = {**DATA, "network": "backbone", "backbone": {"name": name}}
    layers = network_layer_summary(params)
    assert layers[-1]["name"] == "logits"
    assert layers[-1]["parameters"] == (2048 if name == "ResNet50" else 1280) * 3 + 3
