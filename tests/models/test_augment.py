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
    rotate_example,
)
from reproml.records.reader import input_fn
from tests.models.conftest import TINY_CLASSIFIER

EVERY_OP = {
    "flip_left_right": True,
    "flip_up_down": True,
    "rotate90": True,
    "random_crop": 2,
    "rotate": 15.0,
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


@pytest.mark.parametrize("op", [name for name in GEOMETRIC if name != "rotate"])
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
        ({"rotate": 90}, "augment.rotate"),
        ({"rotate": -5}, "augment.rotate"),
        ({"rotate": True}, "augment.rotate"),
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


def _instances(height, width):
    """A non-square uint8 image and mask of two boxes (instance ids 1, 2), and the boxes."""
    boxes = np.array([[0.25, 0.1, 0.5, 0.4], [0.6, 0.55, 0.9, 0.8]], np.float32)
    mask = np.zeros((height, width, 1), np.uint8)
    for number, (ymin, xmin, ymax, xmax) in enumerate(
        np.round(boxes * [height, width, height, width]).astype(int), 1
    ):
        mask[ymin:ymax, xmin:xmax] = number
    return {"image": np.repeat(mask * 100, 3, axis=-1), "boxes": boxes, "mask": mask}


def test_rotate_turns_image_mask_and_boxes_together():
    """Each turned box encloses its turned mask pixels, to within one pixel, on a 24x40 image."""
    height, width = 24, 40
    example = _instances(height, width)
    angles = set()
    for seed in range(6):
        out = augment_example(example, tf.constant([seed, 2]), {"rotate": 30.0})
        again = augment_example(example, tf.constant([seed, 2]), {"rotate": 30.0})
        for key in example:
            assert np.array_equal(out[key].numpy(), again[key].numpy()), key  # bit-exact
        mask, boxes = out["mask"].numpy()[..., 0], out["boxes"].numpy()
        image = out["image"].numpy()
        assert image.dtype == np.uint8 and image.shape == (height, width, 3)
        # the image moved as the mask did (bilinear edges: within one pixel of the mask)
        padded = np.pad(mask > 0, 1)
        near = np.any(
            [padded[dy : dy + height, dx : dx + width] for dy in range(3) for dx in range(3)],
            axis=0,
        )
        assert np.all(image[..., 0][mask > 0] > 0) and not np.any(image[..., 0][~near])
        assert np.all((boxes >= 0) & (boxes <= 1))
        for number, box in enumerate(boxes, 1):
            ys, xs = np.nonzero(mask == number)
            extent = np.array([ys.min(), xs.min(), ys.max() + 1, xs.max() + 1], np.float32)
            scale = np.array([height, width, height, width], np.float32)
            assert np.all(np.abs(extent - box * scale) <= 1.0), (seed, number, extent, box * scale)
        angles.add(mask.tobytes())
    assert len(angles) == 6  # a different angle for every seed


def test_rotate_by_hand():
    """0 degrees changes nothing; 45 degrees turns a centred square box into its diamond's box."""
    example = _instances(32, 32)
    same = rotate_example(example, tf.constant(0.0))
    for key in ("image", "mask"):
        np.testing.assert_array_equal(same[key].numpy(), example[key])
    np.testing.assert_allclose(same["boxes"].numpy(), example["boxes"], atol=1e-6)
    square = {"image": np.zeros((32, 32, 1), np.uint8), "boxes": [[0.25, 0.25, 0.75, 0.75]]}
    turned = rotate_example(square, tf.constant(45.0))["boxes"].numpy()
    half = 0.25 * np.sqrt(2)
    np.testing.assert_allclose(
        turned, [[0.5 - half, 0.5 - half, 0.5 + half, 0.5 + half]], atol=1e-6
    )
    corner = {"image": np.zeros((32, 32, 1), np.uint8), "boxes": [[0.0, 0.0, 0.25, 0.25]]}
    clipped = rotate_example(corner, tf.constant(30.0))["boxes"].numpy()
    assert clipped.min() >= 0.0 and clipped.max() <= 1.0 and clipped[0, 0] == 0.0


def test_adding_rotate_does_not_change_what_the_other_ops_draw():
    """Each op's seed number is fixed: flips and crops draw the same with or without rotate."""
    example = _instances(16, 16)
    seed = tf.constant([5, 9])
    without = augment_example(example, seed, check_augment({"brightness": 0.3}))
    with_rotate = augment_example(example, seed, check_augment({"brightness": 0.3, "rotate": 0}))
    np.testing.assert_array_equal(without["image"].numpy(), with_rotate["image"].numpy())
    ops = check_augment({"flip_left_right": True, "rotate": 10.0, "hue": 0.1})
    assert list(ops) == ["flip_left_right", "rotate", "hue"]
