"""A model_dir's checkpoint is checked before an Estimator restores it: one line per problem."""

import shutil

import pytest

from reproml.errors import RecordError
from reproml.models import wgan
from reproml.models.checkpoint import (
    check_checkpoint,
    checkpoint_shapes,
    checkpoint_step,
    latest_checkpoint,
)
from reproml.models.classifier import (
    check_classifier_checkpoint,
    classifier_variable_shapes,
    make_classifier,
)
from reproml.models.export import export_classifier
from reproml.records.reader import input_fn
from tests.models.conftest import TINY_CLASSIFIER, TINY_GAN

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def trained_dir(tmp_path_factory, digits_records):
    """A model_dir holding the checkpoint of a 2-step training (28x28x1, 10 classes)."""
    model_dir = tmp_path_factory.mktemp("trained")
    estimator = make_classifier(model_dir, TINY_CLASSIFIER, seed=0)
    estimator.train(input_fn("train", 16, digits_records, random_seed=0), steps=2)
    return model_dir


@pytest.fixture
def model_dir(trained_dir, tmp_path):
    """A copy of the trained model_dir that a test may damage."""
    return shutil.copytree(trained_dir, tmp_path / "model")


def _one_line(err: pytest.ExceptionInfo) -> str:
    message = str(err.value)
    path = str(getattr(err.value, "path", ""))
    assert "\n" not in message and len(message.replace(path, "<path>")) < 320, message
    return message


def test_a_sound_checkpoint_passes(model_dir):
    prefix = latest_checkpoint(model_dir)
    assert prefix == str(model_dir / "model.ckpt-2")
    check_checkpoint(model_dir)
    check_classifier_checkpoint(model_dir, TINY_CLASSIFIER)
    assert checkpoint_shapes(prefix)["logits/kernel"] == (TINY_CLASSIFIER["dense_units"], 10)


def test_an_empty_model_dir_has_nothing_to_check(tmp_path):
    assert latest_checkpoint(tmp_path) is None
    check_checkpoint(tmp_path, lambda: pytest.fail("no checkpoint: shapes are not needed"))


@pytest.mark.parametrize("size", [0, 20])
def test_a_truncated_index_is_named(model_dir, size):
    index = model_dir / "model.ckpt-2.index"
    with open(index, "r+b") as f:
        f.truncate(size)
    with pytest.raises(RecordError) as err:
        check_checkpoint(model_dir)
    message = _one_line(err)
    assert message.startswith(f"{index}: is not a readable checkpoint index")
    assert "Use another model_dir" in message
    with pytest.raises(RecordError, match="checkpoint index"):  # make_classifier refuses it too
        make_classifier(model_dir, TINY_CLASSIFIER, seed=0)


@pytest.mark.parametrize("keep", [0.0, 0.5])
def test_a_truncated_data_file_is_named(model_dir, keep):
    (data,) = model_dir.glob("model.ckpt-2.data-*")
    with open(data, "r+b") as f:
        f.truncate(int(data.stat().st_size * keep))
    with pytest.raises(RecordError) as err:
        make_classifier(model_dir, TINY_CLASSIFIER, seed=0)
    message = _one_line(err)
    assert message.startswith(f"{data}: is truncated or corrupt: variable ")


def test_a_flipped_byte_in_the_data_file_is_named(model_dir):
    (data,) = model_dir.glob("model.ckpt-2.data-*")
    content = bytearray(data.read_bytes())
    content[len(content) // 2] ^= 0xFF
    data.write_bytes(bytes(content))
    with pytest.raises(RecordError, match=r"is truncated or corrupt: .*[Cc]hecksum") as err:
        check_checkpoint(model_dir)
    assert str(data) in _one_line(err)


def test_an_unreadable_checkpoint_state_file_is_not_ignored(model_dir):
    (model_dir / "checkpoint").write_text("garbage {{{\n")
    with pytest.raises(RecordError) as err:
        check_checkpoint(model_dir)
    assert _one_line(err).startswith(f"{model_dir / 'checkpoint'}: is not a readable checkpoint")


def test_a_state_file_naming_missing_files_is_not_ignored(model_dir):
    (model_dir / "model.ckpt-2.index").unlink()
    with pytest.raises(RecordError) as err:
        check_checkpoint(model_dir)
    assert "names the checkpoint 'model.ckpt-2', but model.ckpt-2.index is missing" in _one_line(
        err
    )


@pytest.mark.parametrize(
    "data, variable, stored, needed",
    [
        ({"num_classes": 3}, "logits/bias", [10], [3]),
        ({"image_shape": [28, 28, 3]}, "conv0/kernel", [3, 3, 1, 4], [3, 3, 3, 4]),
        ({"image_shape": [14, 14, 1]}, "dense/kernel", [128, 16], [32, 16]),
    ],
)
def test_a_checkpoint_of_another_shape_or_class_count_is_refused(
    model_dir, data, variable, stored, needed
):
    params = {**TINY_CLASSIFIER, **data}
    with pytest.raises(RecordError) as err:
        make_classifier(model_dir, params, seed=0)
    message = _one_line(err)
    assert message.startswith(f"{model_dir / 'model.ckpt-2'}: was made for another model: ")
    assert f"variable {variable!r} is {stored} in the checkpoint" in message
    assert f"needs {needed}" in message
    assert "image_shape" in message and "num_classes" in message


def test_a_checkpoint_of_another_network_is_refused(model_dir):
    expected = {"hidden/kernel": (784, 8), **classifier_variable_shapes(TINY_CLASSIFIER)}
    with pytest.raises(RecordError, match="lacks variable 'hidden/kernel' of the mlp"):
        check_checkpoint(model_dir, expected, "the mlp")
    with pytest.raises(RecordError, match="holds none of the variables of the mlp"):
        check_checkpoint(model_dir, {"hidden/kernel": (784, 8)}, "the mlp")


def test_export_checks_the_checkpoint_first(model_dir, tmp_path):
    estimator = make_classifier(model_dir, TINY_CLASSIFIER, seed=0)
    (data,) = model_dir.glob("model.ckpt-2.data-*")
    data.write_bytes(b"")
    with pytest.raises(RecordError, match="is truncated or corrupt"):
        export_classifier(estimator, tmp_path / "export")


def test_the_gan_refuses_a_classifier_checkpoint(model_dir):
    with pytest.raises(RecordError, match="holds none of the variables of the GAN"):
        wgan.make_gan_estimator(model_dir, TINY_GAN, seed=0)


def test_a_relative_model_dir_with_determinism_on(model_dir, monkeypatch):
    # TensorFlow joins the state file's relative path to model_dir itself; the throwaway graph
    # that reads the model's shapes is seeded, as op determinism (on after run_config) requires.
    from reproml.models.determinism import enable_determinism

    enable_determinism()
    monkeypatch.chdir(model_dir.parent)
    assert latest_checkpoint("model") == "model/model.ckpt-2"
    check_classifier_checkpoint("model", TINY_CLASSIFIER)
    with pytest.raises(RecordError, match="was made for another model"):
        check_classifier_checkpoint("model", {**TINY_CLASSIFIER, "num_classes": 3})


def test_checkpoint_step_is_the_global_step_of_the_latest_checkpoint(trained_dir, tmp_path):
    """What a resumed run's augmentation starts from (`classifier_train_input_fn`)."""
    assert checkpoint_step(trained_dir) == 2
    assert checkpoint_step(tmp_path) == 0
