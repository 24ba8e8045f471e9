"""The classifier and the GAN check every shard's sha256 before they train.

What a completed run records of the check is tested on the quick run of tests/experiments/
test_mnist.py (`test_quick_run_records_that_it_verified_its_shards`).
"""

import json
import shutil

import pytest

from reproml.datasets.mnist import MnistFallbackWarning
from reproml.errors import RecordError
from reproml.records.readers import READERS_DIR
from tests.integrity.rgb_reader import flip_byte

pytestmark = pytest.mark.filterwarnings("ignore", category=MnistFallbackWarning)


@pytest.fixture
def flipped_records(mnist_records, tmp_path):
    """A copy of the quick records with one byte of ``train-00001.tfrecord`` changed."""
    data_dir = tmp_path / "records"
    shutil.copytree(mnist_records[0], data_dir)
    flip_byte(data_dir / "train-00001.tfrecord")
    return data_dir


@pytest.mark.parametrize("experiment", ["mnist", "mnist_gan"])
def test_a_flipped_byte_fails_the_run_before_training_naming_the_shard(
    experiment, flipped_records, tmp_path, monkeypatch
):
    ex = __import__(f"experiments.{experiment}", fromlist=["ex"]).ex
    monkeypatch.setenv("REPROML_RUNS_DIR", str(tmp_path / "runs"))
    model_dir = tmp_path / "model"
    config = {"dataset.data_dir": str(flipped_records), "model_dir": str(model_dir)}
    with pytest.raises(RecordError) as info:
        ex.run(config_updates=config, named_configs=["quick"])
    message = str(info.value)
    assert message.startswith(f"{flipped_records / 'train-00001.tfrecord'}: has sha256 ")
    assert "same size, so its content changed" in message and "\n" not in message
    run_dir = tmp_path / "runs" / "1"
    assert json.loads((run_dir / "run.json").read_text())["status"] == "FAILED"
    assert not model_dir.exists()  # nothing trained: no estimator, no checkpoint
    assert "train.loss" not in json.loads((run_dir / "metrics.json").read_text())
    assert not (flipped_records / READERS_DIR).exists()
