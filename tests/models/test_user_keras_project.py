"""A user's own Keras network in an experiment file outside reproml: recorded and reproduced."""

from __future__ import annotations

import json

from tests.models.user_project import make_user_project, run_colours


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
