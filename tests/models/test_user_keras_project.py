"""A user's own Keras network, or a backbone from a local weights file, in an experiment file
outside reproml: recorded, reproduced exactly, and refused with other weights."""

from __future__ import annotations

import json

import pytest
import tensorflow as tf

from reproml.records.file_hash import file_sha256
from tests.models.user_project import SIDE, make_user_project, run_colours


@pytest.mark.slow
def test_own_keras_network_on_png_folder_is_recorded_exported_and_reproduced(tmp_path):
    project = make_user_project(tmp_path)
    proc = run_colours(project)
    assert proc.returncode == 0, proc.stderr[-3000:]
    info = json.loads((project.runs / "1" / "info.json").read_text())
    assert info["model"] == "keras:colours.py:my_network"
    summary = info["model_summary"]
    names = [layer["name"] for layer in summary["layers"]]
    assert names == ["conv", "bn", "pool", "features", "drop", "logits"]
    assert summary["parameters"] == 112 + 16 + 0 + 40 + 0 + 27
    assert summary["layers"][0]["output_shape"] == [None, 30, 30, 4]
    assert summary["saved_model_bytes"] > 0
    assert info["export_dir"]
    shown = project.reproml("show", "1")
    assert shown.returncode == 0, shown.stderr
    assert "keras:colours.py:my_network" in shown.stdout
    repro = project.reproml("reproduce", "1", cwd=tmp_path)
    assert repro.returncode == 0, repro.stdout + repro.stderr
    assert repro.stdout.splitlines()[-1] == "run 1 reproduced exactly"


@pytest.mark.slow
def test_backbone_fine_tuned_from_a_local_weights_file_reproduces_and_other_weights_are_refused(
    tmp_path,
):
    project = make_user_project(tmp_path)
    tf.keras.utils.set_random_seed(3)
    weights = tmp_path / "mobilenet_035_32.h5"
    tf.keras.applications.MobileNetV2(
        input_shape=(SIDE, SIDE, 3), alpha=0.35, include_top=False, weights=None, pooling="avg"
    ).save_weights(str(weights))
    backbone = {"name": "MobileNetV2", "alpha": 0.35, "weights": str(weights)}
    backbone.update(unfreeze_top=1, unfreeze_at_step=2)
    proc = run_colours(project, f"backbone={backbone!r}", "steps=3")
    assert proc.returncode == 0, proc.stderr[-3000:]
    info = json.loads((project.runs / "1" / "info.json").read_text())
    sha = file_sha256(weights)[1]
    assert info["model"] == "backbone"
    assert info["backbone_weights"] == {"file": str(weights), "sha256": sha, "url": None}
    assert info["fine_tuning"]["unfrozen_layers"] == ["Conv_1_bn"]
    assert info["fine_tuning"]["unfreeze_at_step"] == 2
    assert info["backbone_weights_saved"]["artifact"] == "backbone_weights.h5"
    saved = project.runs / "1" / "backbone_weights.h5"
    assert file_sha256(saved)[1] == info["backbone_weights_saved"]["sha256"]
    repro = project.reproml("reproduce", "1", cwd=tmp_path)
    assert repro.returncode == 0, repro.stdout + repro.stderr
    assert repro.stdout.splitlines()[-1] == "run 1 reproduced exactly"
    # other weights under the same name: refused before anything runs, in one line
    original = weights.read_bytes()
    weights.write_bytes(saved.read_bytes())
    refused = project.reproml("reproduce", "1", cwd=tmp_path)
    weights.write_bytes(original)
    assert refused.returncode == 2
    message = refused.stderr.strip().splitlines()
    assert len(message) == 1, refused.stderr
    assert message[0].startswith("reproml reproduce: error: refusing to reproduce run 1: ")
    assert f"weights file {weights} has sha256 {file_sha256(saved)[1]}, " in message[0]
    assert f"the run recorded {sha}" in message[0]
