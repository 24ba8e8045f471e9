"""docs/experiments.md: the recipe runs as written, on a small dataset of the researcher's own."""

import importlib.util
import sys

import numpy as np
import pytest

from reproml.errors import ConfigError, SerializationMismatchError
from reproml.records.manifest import load_manifest
from tests.doc_blocks import python_blocks

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def my_data(tmp_path_factory):
    """The recipe written to my_data.py (as a researcher copies it) and imported."""
    tmp = tmp_path_factory.mktemp("recipe")
    (recipe,) = python_blocks("docs/experiments.md")
    path = tmp / "my_data.py"
    path.write_text(recipe)
    spec = importlib.util.spec_from_file_location("my_data_recipe", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.modules.pop(spec.name, None)


@pytest.fixture
def images_npz(tmp_path):
    """Two classes of 16x16 RGB images a classifier separates at once: dark and bright."""
    rng = np.random.default_rng(0)

    def split(n):
        labels = rng.integers(0, 2, n)
        images = rng.integers(0, 100, (n, 16, 16, 3)) + 150 * labels[:, None, None, None]
        return images.astype(np.uint8), labels

    (x_train, y_train), (x_test, y_test) = split(64), split(32)
    path = tmp_path / "images.npz"
    np.savez(path, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    return path


def test_recipe_trains_on_its_own_records_and_refuses_another_config(
    my_data, images_npz, tmp_path, monkeypatch
):
    monkeypatch.setenv("REPROML_RUNS_DIR", str(tmp_path / "runs"))
    updates = {
        "dataset.data_path": str(images_npz),
        "dataset.data_dir": str(tmp_path / "records"),
        "dataset.samples_per_record": 20,
        "steps": 6,
        "eval_every": 3,
        "log_every": 1,
        "batch_size": 16,
    }
    run = my_data.ex.run(config_updates=updates)
    assert 0.0 <= run.result <= 1.0
    manifest = load_manifest(tmp_path / "records")
    assert manifest.schema["image"].spec.shape == (16, 16, 3)
    assert manifest.schema["label"].spec.names == ("cat", "dog")
    assert run.info["dataset"]["name"] == "my_data"
    assert run.info["dataset"]["fingerprint"] == manifest.fingerprint
    assert run.info["dataset"]["source"]["serialization"]["samples_per_record"] == 20

    with pytest.raises(SerializationMismatchError, match="dataset.max_examples=None there, 10"):
        my_data.ex.run(config_updates={**updates, "dataset.max_examples": 10})
    with pytest.raises(ConfigError, match="'lr'"):
        my_data.ex.run(config_updates={**updates, "lr": float("inf")})
    again = my_data.ex.run(
        config_updates={**updates, "dataset.max_examples": 10, "dataset.overwrite_records": True}
    )
    assert again.info["dataset"]["splits"] == {"train": 10, "test": 10}
