"""Augmentation (reproml.records.augment): bit-exact per seed, applied, boxes and masks moved."""

from __future__ import annotations

import functools

import numpy as np
import pytest
import tensorflow as tf

from reproml.errors import ConfigError
from reproml.models.checkpoint import checkpoint_step
from reproml.models.classifier import make_classifier
from reproml.records.augment import (
    AUGMENT_OPS,
    augment_batches,
    augment_example,
    augmented_input_fn,
    check_augment,
    check_image_shape_for,
)
from reproml.records.reader import input_fn
from tests.models.conftest import TINY_CLASSIFIER

EVERY_OP = {
    "flip_left_right": True,
    "flip_up_down": True,
    "rotate90": True,
    "random_crop": 2,
    "brightness": 0.2,
    "contrast": [0.7, 1.3],
    "saturation": [0.5, 1.5],
    "hue": 0.1,
}
GEOMETRIC = {name: value for name, value in EVERY_OP.items() if AUGMENT_OPS[name].geometric}


def _batches(record_dir, augment, seed, count=3):
    fn = input_fn("train", 16, record_dir, shuffle=False)
    wrapped = augmented_input_fn(fn, check_augment(augment), seed)
    return [f["image"] for f, _ in wrapped().take(count).as_numpy_iterator()]


def test_same_seed_is_bit_exact_another_seed_differs_and_it_is_applied(digits_records):
    augment = {"flip_left_right": True, "random_crop": 3, "brightness": 0.2}
    first, again = _batches(digits_records, augment, 7), _batches(digits_records, augment, 7)
    other = _batches(digits_records, augment, 8)
    plain = [f["image"] for f, _ in input_fn("train", 16, digits_records, shuffle=False)().take(3)]
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))
    assert not any(np.array_equal(a, b) for a, b in zip(first, other, strict=True))
    assert not any(np.array_equal(a, np.asarray(b)) for a, b in zip(first, plain, strict=True))
    assert first[0].dtype == np.uint8 and first[0].shape == (16, 28, 28, 1)


def test_batch_of_step_s_does_not_depend_on_where_the_segment_started(digits_records):
    """A resumed segment starting at step 2 augments its first batch as step 2 did."""
    ops = check_augment({"random_crop": 3, "contrast": [0.5, 1.5]})
    batch = tf.data.Dataset.from_tensors(
        next(iter(input_fn("train", 16, digits_records, shuffle=False)()))
    )
    from_zero = list(augment_batches(batch.repeat(3), ops, 5).as_numpy_iterator())
    from_two = list(augment_batches(batch, ops, 5, first_step=2).as_numpy_iterator())
    assert np.array_equal(from_zero[2][0]["image"], from_two[0][0]["image"])
    assert not np.array_equal(from_zero[1][0]["image"], from_two[0][0]["image"])


def _example():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
    boxes = np.array([[0.25, 0.0, 0.75, 0.5], [0.0, 0.625, 0.125, 1.0]], np.float32)
    return {"image": image, "boxes": boxes, "mask": _rasterize(boxes, 8)}


def _rasterize(boxes, size):
    mask = np.zeros((size, size, 1), np.uint8)
    for number, (ymin, xmin, ymax, xmax) in enumerate(np.round(boxes * size).astype(int), 1):
        mask[ymin:ymax, xmin:xmax] = number
    return mask


@pytest.mark.parametrize("op", list(GEOMETRIC))
def test_boxes_and_mask_move_with_the_image(op):
    example = _example()
    seen = set()
    for seed in range(8):
        out = augment_example(example, tf.constant([seed, 1]), {op: GEOMETRIC[op]})
        mask, boxes = out["mask"].numpy(), out["boxes"].numpy()
        # the mask drawn from the moved boxes is the moved mask, pixel for pixel
        assert np.array_equal(_rasterize(boxes, 8), mask), (op, seed, boxes)
        assert np.all((boxes >= 0) & (boxes <= 1))
        seen.add(mask.tobytes())
    assert len(seen) >= 2  # the op did move them, for some seeds


def test_flip_left_right_boxes_by_hand():
    example = _example()
    for seed in range(8):
        out = augment_example(example, tf.constant([seed, 0]), {"flip_left_right": True})
        if np.array_equal(out["image"].numpy(), example["image"][:, ::-1]):
            expected = [[0.25, 0.5, 0.75, 1.0], [0.0, 0.0, 0.125, 0.375]]
            assert np.allclose(out["boxes"].numpy(), expected)
            return
    pytest.fail("no seed in 0..7 flipped")


def test_eager_and_tf_data_map_give_the_same_example():
    example = _example()
    ops = check_augment(EVERY_OP)
    seed = tf.constant([3, 4], tf.int64)
    eager = augment_example(example, seed, ops)
    mapped = next(
        iter(tf.data.Dataset.from_tensors(example).map(lambda f: augment_example(f, seed, ops)))
    )
    for key in example:
        assert np.array_equal(eager[key].numpy(), mapped[key].numpy()), key
    assert eager["image"].dtype == tf.uint8 and eager["image"].shape == (8, 8, 3)


@pytest.mark.parametrize(
    ("augment", "entry"),
    [
        ({"flip": True}, "augment"),
        ([("flip_left_right", True)], "augment"),
        ({"flip_left_right": 1}, "augment.flip_left_right"),
        ({"random_crop": -1}, "augment.random_crop"),
        ({"random_crop": 1.5}, "augment.random_crop"),
        ({"brightness": 2.0}, "augment.brightness"),
        ({"brightness": float("nan")}, "augment.brightness"),
        ({"contrast": [1.2, 0.8]}, "augment.contrast"),
        ({"contrast": 0.2}, "augment.contrast"),
        ({"saturation": [0, float("inf")]}, "augment.saturation"),
        ({"hue": 0.6}, "augment.hue"),
    ],
)
def test_bad_augment_refused_in_one_line(augment, entry):
    with pytest.raises(ConfigError) as info:
        check_augment(augment)
    assert info.value.entry == entry and "\n" not in str(info.value)


def test_ops_the_images_cannot_take_are_refused():
    check_image_shape_for(check_augment(EVERY_OP), [8, 8, 3])
    with pytest.raises(ConfigError, match="augment.rotate90.*square"):
        check_image_shape_for(check_augment({"rotate90": True}), [8, 6, 3])
    with pytest.raises(ConfigError, match="augment.hue.*RGB"):
        check_image_shape_for(check_augment({"hue": 0.1}), [8, 8, 1])


def test_check_augment_keeps_the_run_order_and_drops_disabled_ops():
    ops = check_augment({"brightness": 0.1, "flip_up_down": False, "random_crop": 0, "hue": 0.0})
    assert ops == {"brightness": 0.1}
    assert list(check_augment({"brightness": 0.1, "flip_left_right": True})) == [
        "flip_left_right",
        "brightness",
    ]
    assert check_augment(None) == {}


def _trained_weights(model_dir, record_dir, seed):
    estimator = make_classifier(model_dir, TINY_CLASSIFIER, seed=0)
    ops = check_augment({"flip_left_right": True, "random_crop": 2, "brightness": 0.2})
    train = augmented_input_fn(
        input_fn("train", 16, record_dir), ops, seed, functools.partial(checkpoint_step, model_dir)
    )
    estimator.train(train, max_steps=2)
    return {name: estimator.get_variable_value(name) for name in estimator.get_variable_names()}


@pytest.mark.slow
def test_training_on_augmented_batches_is_bit_exact_per_seed(digits_records, tmp_path):
    first = _trained_weights(tmp_path / "a", digits_records, seed=1)
    again = _trained_weights(tmp_path / "b", digits_records, seed=1)
    other = _trained_weights(tmp_path / "c", digits_records, seed=2)
    assert first.keys() == again.keys() and first["global_step"] == 2
    assert all(np.array_equal(first[name], again[name]) for name in first)
    kernels = [name for name in first if name.endswith("kernel")]
    assert any(not np.array_equal(first[name], other[name]) for name in kernels)
