"""The classifier and the WGAN on records that are not 28x28x1 with 10 classes.

Shape, channels, number of classes and class names come from the manifest
(`classifier_params_from_manifest`): 14x14x1 and 28x28x3 three-class digits train 2 steps,
evaluate to a [3, 3] confusion matrix, and export a SavedModel serving uint8 images of that shape.
"""

import numpy as np
import pytest
import tensorflow as tf

from handlers.image import ImageArrayHandler
from handlers.label import ClassLabelHandler
from reproml.models import wgan
from reproml.models.classifier import make_classifier
from reproml.models.data_contract import classifier_params_from_manifest, gan_params_from_manifest
from reproml.models.export import export_classifier
from reproml.models.frechet import images_input_fn
from reproml.models.plots import save_confusion_matrix
from reproml.records.reader import input_fn
from tests.models.conftest import TINY_CLASSIFIER, TINY_GAN, digit_rows, write_image_records

pytestmark = pytest.mark.slow

NAMES = ("zero", "one", "two")
NETWORK = {k: v for k, v in TINY_CLASSIFIER.items() if k not in ("image_shape", "num_classes")}
SHAPES = {"14x14x1": (14, 14, 1), "28x28x3": (28, 28, 3)}


@pytest.fixture(scope="module", params=sorted(SHAPES))
def records(request, tmp_path_factory):
    """Three-class digits (0, 1, 2) stored as uint8 images of the parametrized shape."""
    shape = SHAPES[request.param]
    handlers = {
        "image": ImageArrayHandler(shape=shape, scale=(0, 16, 0, 255)),
        "label": ClassLabelHandler(names=NAMES),
    }
    rows = digit_rows(3, {"train": 48, "eval": 24})
    record_dir = tmp_path_factory.mktemp(f"digits_{request.param}")
    return write_image_records(record_dir, handlers, rows), shape


@pytest.fixture(scope="module")
def trained(records, tmp_path_factory):
    record_dir, _ = records
    params = {**NETWORK, "lr": 0.01, **classifier_params_from_manifest(record_dir)}
    estimator = make_classifier(tmp_path_factory.mktemp("model"), params, seed=0)
    estimator.train(input_fn("train", 8, record_dir, random_seed=0), steps=2)
    return estimator


def test_params_come_from_the_manifest(records):
    record_dir, shape = records
    params = classifier_params_from_manifest(record_dir)
    assert params == {"image_shape": list(shape), "num_classes": 3, "class_names": list(NAMES)}


def test_trains_and_evaluates_with_the_records_classes(trained, records, tmp_path):
    record_dir, _ = records
    assert trained.get_variable_value("global_step") == 2
    assert trained.get_variable_value("logits/kernel").shape == (NETWORK["dense_units"], 3)
    metrics = trained.evaluate(input_fn("eval", 8, record_dir, n_epochs=1))
    matrix = metrics["confusion_matrix"]
    assert matrix.shape == (3, 3) and matrix.sum() == 24
    per_class = {k for k in metrics if k.startswith(("precision/", "recall/"))}
    assert per_class == {f"{kind}/{name}" for kind in ("precision", "recall") for name in NAMES}
    path = save_confusion_matrix(matrix, tmp_path / "cm.png", trained.params["class_names"])
    assert path.is_file()


def _eval_images(record_dir):
    batches = [f["image"].numpy() for f, _ in input_fn("eval", 8, record_dir, n_epochs=1)()]
    return np.concatenate(batches)


def test_export_serves_raw_uint8_images_of_the_records_shape(trained, records, tmp_path):
    record_dir, shape = records
    export_dir = export_classifier(trained, tmp_path / "export")
    serve = tf.saved_model.load(str(export_dir)).signatures["serving_default"]
    spec = serve.structured_input_signature[1]["image"]
    assert spec.dtype == tf.uint8 and spec.shape.as_list() == [None, *shape]

    images = _eval_images(record_dir)
    assert images.shape[1:] == shape and images.dtype == np.uint8
    served = {k: v.numpy() for k, v in serve(image=tf.constant(images)).items()}
    predicted = list(trained.predict(images_input_fn(images, batch_size=8)))
    assert served["probabilities"].shape == (len(images), 3)
    np.testing.assert_array_equal(served["class_ids"], [p["class_ids"] for p in predicted])
    np.testing.assert_allclose(
        served["probabilities"], np.stack([p["probabilities"] for p in predicted]), atol=1e-6
    )
    assert served["classes"].tolist() == [NAMES[i].encode() for i in served["class_ids"]]

    other = (shape[0], shape[1], 4 - shape[2])  # the other channel count is refused
    with pytest.raises((TypeError, ValueError, tf.errors.InvalidArgumentError)):
        serve(image=tf.zeros([1, *other], tf.uint8))


def test_the_classifier_refuses_images_of_another_shape(trained, records):
    record_dir, shape = records
    wrong = np.zeros((2, shape[0] + 2, shape[1], shape[2]), np.uint8)
    with pytest.raises(ValueError, match=r"expected tf.uint8 \[B, "):
        list(trained.predict(images_input_fn(wrong)))


def test_wgan_takes_its_image_shape_from_the_manifest(tmp_path):
    handlers = {
        "image": ImageArrayHandler(shape=(16, 12, 3), scale=(0, 16, 0, 255)),
        "label": ClassLabelHandler(names=NAMES),
    }
    record_dir = write_image_records(
        tmp_path / "records", handlers, digit_rows(3, {"train": 32, "eval": 16})
    )
    params = {**TINY_GAN, **gan_params_from_manifest(record_dir)}
    assert params["image_shape"] == [16, 12, 3]
    estimator = wgan.make_gan_estimator(tmp_path / "gan", params, seed=0)
    noise_dims = params["noise_dims"]
    train = input_fn("train", 8, record_dir, random_seed=0)
    estimator.train(wgan.gan_input_fn(train, noise_dims), steps=2)
    samples = wgan.generate(estimator, 3, noise_dims)
    assert samples.shape == (3, 16, 12, 3)
