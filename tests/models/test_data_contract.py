"""What the models take from a record set's manifest, on tiny records written with handlers."""

import numpy as np
import pytest

from handlers.image import ImageArrayHandler
from handlers.label import ClassLabelHandler
from handlers.numeric import NumericHandler
from reproml.errors import DataContractError, RecordError
from reproml.models.data_contract import (
    ImageInput,
    class_labels,
    classifier_params_from_manifest,
    gan_params_from_manifest,
    image_input,
)
from reproml.records.manifest import Manifest, load_manifest
from tests.models.conftest import DIGITS_DATA, write_image_records


def _records(tmp_path, image_handler, label_handler=None, image_key="image", image=None):
    """Two rows per split of `image` (default: a random 8x8x1 uint8 image) and label 0."""
    rng = np.random.default_rng(0)
    value = rng.integers(0, 256, (8, 8, 1)).astype(np.uint8) if image is None else image
    label_handler = label_handler or ClassLabelHandler(names=["cat", "dog"])
    rows = [{image_key: value, "label": 0} for _ in range(2)]
    handlers = {image_key: image_handler, "label": label_handler}
    return write_image_records(tmp_path / "records", handlers, {"train": rows, "eval": rows})


def test_digits_records_give_what_the_tests_assume(digits_records):
    params = classifier_params_from_manifest(digits_records)
    assert params == {**DIGITS_DATA, "class_names": [str(i) for i in range(10)]}
    assert gan_params_from_manifest(digits_records) == {"image_shape": [28, 28, 1]}


@pytest.mark.parametrize(
    "image_handler, image, shape",
    [
        (ImageArrayHandler(shape=(14, 14, 1)), None, [14, 14, 1]),
        (ImageArrayHandler(shape=(28, 28, 3)), None, [28, 28, 3]),
        (ImageArrayHandler(shape=(6, 10, 3)), np.zeros((6, 10, 3), np.uint8), [6, 10, 3]),
    ],
)
def test_shape_and_classes_come_from_the_manifest(tmp_path, image_handler, image, shape):
    names = ["cat", "dog", "bird"]
    record_dir = _records(tmp_path, image_handler, ClassLabelHandler(names=names), image=image)
    assert image_input(record_dir) == ImageInput("image", tuple(shape), "uint8")
    assert class_labels(record_dir) == tuple(names)
    params = classifier_params_from_manifest(load_manifest(record_dir))  # a Manifest works too
    assert params == {"image_shape": shape, "num_classes": 3, "class_names": names}


# Record sets the classifier cannot take: handlers -> the one-line message.
REFUSED = {
    "float32 images": (
        {"image_handler": ImageArrayHandler(shape=(8, 8, 1), dtype="float32")},
        "records feature 'image' ({manifest}) holds float32 [8, 8, 1]; the classifier expects "
        "uint8 [H, W, C] images with C in (1, 3) (serialize with "
        "ImageArrayHandler(dtype='uint8'))",
    ),
    "rank-2 images": (
        {"image_handler": ImageArrayHandler(shape=(8, 8))},
        "records feature 'image' ({manifest}) holds uint8 [8, 8]; the classifier expects "
        "uint8 [H, W, C] images with C in (1, 3) (serialize with "
        "ImageArrayHandler(shape=(8, 8, 1)))",
    ),
    "4 channels": (
        {
            "image_handler": ImageArrayHandler(shape=(8, 8, 4)),
            "image": np.zeros((8, 8, 4), np.uint8),
        },
        "records feature 'image' ({manifest}) holds uint8 [8, 8, 4]; the classifier expects "
        "uint8 [H, W, C] images with C in (1, 3) (serialize with "
        "ImageArrayHandler(shape=(8, 8, 1 or 3)))",
    ),
    "no image key": (
        {"image_handler": ImageArrayHandler(shape=(8, 8, 1)), "image_key": "pixels"},
        "records feature 'image' ({manifest}) is missing (the records hold ['label', 'pixels']); "
        "the classifier expects uint8 [H, W, C] images with C in (1, 3) under 'image' (pass the "
        "key the records use, or serialize the feature)",
    ),
    "label without names": (
        {
            "image_handler": ImageArrayHandler(shape=(8, 8, 1)),
            "label_handler": NumericHandler(shape=(), dtype="int64"),
        },
        "records feature 'label' ({manifest}) holds int64 [] without class names; the "
        "classifier expects an int64 class label [] with class names (serialize with "
        "ClassLabelHandler(names=[...]))",
    ),
    "float label": (
        {
            "image_handler": ImageArrayHandler(shape=(8, 8, 1)),
            "label_handler": NumericHandler(shape=(), dtype="float32"),
        },
        "records feature 'label' ({manifest}) holds float32 []; the classifier expects an int64 "
        "class label [] with class names (serialize with ClassLabelHandler(names=[...]))",
    ),
    "one class": (
        {
            "image_handler": ImageArrayHandler(shape=(8, 8, 1)),
            "label_handler": ClassLabelHandler(names=["only"]),
        },
        "records feature 'label' ({manifest}) holds 1 class ['only']; the classifier expects at "
        "least 2 classes (serialize with ClassLabelHandler(names=[...]))",
    ),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_records_the_classifier_cannot_take_are_refused_in_one_line(tmp_path, case):
    kwargs, message = REFUSED[case]
    record_dir = _records(tmp_path, **kwargs)
    with pytest.raises(DataContractError) as err:
        classifier_params_from_manifest(record_dir)
    expected = message.format(manifest=record_dir / "manifest.json")
    assert str(err.value) == expected
    assert "\n" not in str(err.value)
    assert isinstance(err.value, RecordError) and err.value.path == str(
        record_dir / "manifest.json"
    )


def test_a_loaded_manifest_names_its_file_and_a_built_one_does_not(tmp_path):
    record_dir = _records(tmp_path, ImageArrayHandler(shape=(8, 8, 1), dtype="float32"))
    manifest = load_manifest(record_dir)
    with pytest.raises(DataContractError) as err:
        image_input(manifest)
    assert str(err.value).startswith(f"records feature 'image' ({record_dir / 'manifest.json'})")
    built = Manifest.from_json(manifest.to_json())  # not read from or written to a directory
    with pytest.raises(DataContractError, match=r"^records feature 'image' holds float32"):
        image_input(built)


def test_other_keys_can_be_named(tmp_path):
    record_dir = _records(tmp_path, ImageArrayHandler(shape=(8, 8, 1)), image_key="pixels")
    assert image_input(record_dir, key="pixels").shape == (8, 8, 1)
    params = classifier_params_from_manifest(record_dir, image_key="pixels", label_key="label")
    assert params["image_shape"] == [8, 8, 1]


def test_a_directory_without_manifest_is_a_record_error(tmp_path):
    with pytest.raises(RecordError, match="no manifest here"):
        classifier_params_from_manifest(tmp_path)


def test_gan_needs_what_its_network_needs(tmp_path):
    record_dir = _records(tmp_path, ImageArrayHandler(shape=(14, 14, 1)))
    with pytest.raises(DataContractError) as err:
        gan_params_from_manifest(record_dir)
    assert str(err.value) == (
        f"records feature 'image' ({record_dir / 'manifest.json'}) holds uint8 [14, 14, 1]; "
        "the GAN network 'dcgan' expects [H, W, C] images with H and W divisible by 4 "
        "(serialize with ImageArrayHandler(shape=...) to such a size)"
    )
    assert classifier_params_from_manifest(record_dir)["image_shape"] == [14, 14, 1]


def test_gan_refuses_float_images_naming_the_gan(tmp_path):
    record_dir = _records(tmp_path, ImageArrayHandler(shape=(8, 8, 1), dtype="float32"))
    with pytest.raises(DataContractError, match=r"holds float32 \[8, 8, 1\]; the GAN expects"):
        gan_params_from_manifest(record_dir)


def test_gan_params_take_rgb_shapes(tmp_path):
    record_dir = _records(
        tmp_path, ImageArrayHandler(shape=(16, 12, 3)), image=np.zeros((16, 12, 3), np.uint8)
    )
    assert gan_params_from_manifest(record_dir) == {"image_shape": [16, 12, 3]}
