"""The drift and embed commands check the shards they read before embedding anything."""

import json
import shutil
from pathlib import Path

import pytest

from experiments.mnist import ex
from reproml.errors import RecordError
from reproml.records.readers import READERS_DIR
from tests.integrity.rgb_reader import flip_byte

pytestmark = pytest.mark.slow


def _failed_run_dir(store: Path) -> Path:
    newest = max((p for p in store.iterdir() if p.name.isdigit()), key=lambda p: int(p.name))
    assert json.loads((newest / "run.json").read_text())["status"] == "FAILED"
    return newest


def test_drift_refuses_production_records_with_a_changed_shard(
    training_run, digits_test_records, tmp_path, monkeypatch
):
    train, data_dir, store = training_run
    production = tmp_path / "production"
    shutil.copytree(digits_test_records, production)
    flip_byte(production / "test-00001.tfrecord")
    monkeypatch.setenv("REPROML_RUNS_DIR", str(store))
    config = {
        "dataset.data_dir": str(data_dir),
        "dataset.max_examples": None,
        "model_dir": train.info["model_dir"],
        "drift.production": str(production),
        "drift.production_split": "test",
    }
    with pytest.raises(RecordError) as info:
        ex.run("drift", config_updates=config, named_configs=["quick"])
    assert str(info.value).startswith(f"{production / 'test-00001.tfrecord'}: has sha256 ")
    run_dir = _failed_run_dir(store)
    assert "drift" not in json.loads((run_dir / "info.json").read_text())  # nothing embedded
    assert not (production / READERS_DIR).exists() and not (data_dir / READERS_DIR).exists()


def test_embed_refuses_dataset_records_with_a_changed_shard(training_run, tmp_path, monkeypatch):
    train, data_dir, store = training_run
    copy = tmp_path / "records"
    shutil.copytree(data_dir, copy, ignore=shutil.ignore_patterns(READERS_DIR))
    flip_byte(copy / "test-00002.tfrecord")
    monkeypatch.setenv("REPROML_RUNS_DIR", str(store))
    config = {
        "dataset.data_dir": str(copy),
        "dataset.max_examples": None,
        "model_dir": train.info["model_dir"],
    }
    with pytest.raises(RecordError, match=r"test-00002\.tfrecord: has sha256 .* same size"):
        ex.run("embed", config_updates=config, named_configs=["quick"])
    run_dir = _failed_run_dir(store)
    assert not (run_dir / "embeddings.npz").exists()
    assert not (copy / READERS_DIR).exists()
