"""docs/experiments.md: the recipe runs as written, on a small image folder of the researcher's own."""

import importlib.util
import sys

import pytest

from reproml.errors import ConfigError, SerializationMismatchError
from reproml.records.manifest import load_manifest
from tests.doc_blocks import python_blocks
from tests.experiments.shapes_recipe import CLASSES, write_image_folder

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def shapes(tmp_path_factory):
    """The recipe written to shapes.py (as a researcher copies it) and imported."""
    tmp = tmp_path_factory.mktemp("recipe")
    (recipe,) = python_blocks("docs/experiments.md")
    path = tmp / "shapes.py"
    path.write_text(recipe)
    spec = importlib.util.spec_from_file_location("shapes_recipe", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.modules.pop(spec.name, None)


@pytest.fixture
def images(tmp_path):
    """3 classes of 24x24 RGB PNGs, one class name with a space: ``images/{train,test}/<class>``."""
    write_image_folder(tmp_path / "images")
    return tmp_path / "images"


def test_recipe_trains_on_its_own_records_and_refuses_another_config(
    shapes, images, tmp_path, monkeypatch
):
    monkeypatch.setenv("REPROML_RUNS_DIR", str(tmp_path / "runs"))
    updates = {
        "dataset.train_dir": str(images / "train"),
        "dataset.test_dir": str(images / "test"),
        "dataset.data_dir": str(tmp_path / "records"),
        "dataset.samples_per_record": 20,
        "steps": 6,
        "eval_every": 3,
        "log_every": 1,
        "batch_size": 16,
    }
    run = shapes.ex.run(config_updates=updates)
    assert 0.0 <= run.result <= 1.0
    manifest = load_manifest(tmp_path / "records")
    assert manifest.schema["image"].spec.shape == (24, 24, 3)
    assert manifest.schema["label"].spec.names == tuple(sorted(CLASSES))
    assert run.info["dataset"]["name"] == "shapes"
    assert run.info["dataset"]["fingerprint"] == manifest.fingerprint
    assert run.info["dataset"]["source"]["serialization"]["samples_per_record"] == 20

    with pytest.raises(SerializationMismatchError, match="dataset.max_examples=None there, 6"):
        shapes.ex.run(config_updates={**updates, "dataset.max_examples": 6})
    with pytest.raises(ConfigError, match="'lr'"):
        shapes.ex.run(config_updates={**updates, "lr": float("inf")})
    again = shapes.ex.run(
        config_updates={**updates, "dataset.max_examples": 6, "dataset.overwrite_records": True}
    )
    assert again.info["dataset"]["splits"] == {"train": 6, "test": 6}
    assert again.info["dataset"]["examples_per_class"]["train"] == dict.fromkeys(CLASSES, 2)
