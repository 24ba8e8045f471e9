"""experiments/mnist_gan.py end to end (quick + wgan_gp) on the file store."""

import json
import math
from pathlib import Path

import pytest

from experiments.mnist_gan import ex
from reproml.errors import ConfigError

pytestmark = pytest.mark.slow


def test_quick_wgan_gp_run_records_frechet_distance_and_sample_grids(
    mnist_records, tmp_path, monkeypatch
):
    data_dir, fingerprint = mnist_records
    monkeypatch.setenv("REPROML_RUNS_DIR", str(tmp_path / "runs"))
    run = ex.run(
        config_updates={"dataset.data_dir": str(data_dir)}, named_configs=["wgan_gp", "quick"]
    )
    assert math.isfinite(run.result) and run.result >= 0
    store = Path(run.info["run_dir"])
    record = json.loads((store / "run.json").read_text())
    assert record["status"] == "COMPLETED"
    config = json.loads((store / "config.json").read_text())
    assert (config["gan_type"], config["optimizer"], config["lr"]) == ("wgan_gp", "adam", 1e-4)
    info = json.loads((store / "info.json").read_text())
    assert info["dataset"]["fingerprint"] == fingerprint
    assert info["model"] == "dcgan"
    metrics = json.loads((store / "metrics.json").read_text())
    assert metrics["eval.frechet_distance"]["steps"] == [3, 6]
    assert metrics["eval.frechet_distance"]["values"][-1] == pytest.approx(run.result)
    assert {"train.loss", "eval.generator_loss", "eval.discriminator_loss"} <= set(metrics)
    for step in (3, 6):
        grid = store / f"samples_step_{step:06d}.png"
        assert grid.read_bytes()[:4] == b"\x89PNG"
        assert grid.name in record["artifacts"]


@pytest.mark.parametrize(
    ("updates", "entry"),
    [
        ({"gan_type": "dcgan"}, "gan_type"),
        ({"clip_value": 0}, "clip_value"),
        ({"lr": float("inf")}, "lr"),
        ({"seed": -1}, "seed"),
        ({"num_fid_samples": 1}, "num_fid_samples"),
        ({"classifier_dir": "/nonexistent/classifier"}, "classifier_dir"),
        ({"dataset.data_dir": ""}, "dataset.data_dir"),
    ],
)
def test_bad_gan_config_refused_naming_the_entry(tmp_path, monkeypatch, updates, entry):
    monkeypatch.setenv("REPROML_RUNS_DIR", str(tmp_path / "runs"))
    with pytest.raises(ConfigError, match=repr(entry)):
        ex.run(config_updates=updates, named_configs=["quick"])
    assert not (tmp_path / "runs").exists()
