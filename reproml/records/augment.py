"""Augmentation declared in config: checked, recorded, applied per example with stateless ops.

The config entry names each op with its parameter::

    augment = {"flip_left_right": True, "random_crop": 4, "brightness": 0.1}

    check_augment(augment)            -> the ops in the order they run (or one ConfigError line)
    augment_example(features, seed)   -> the same features, image (and boxes, mask) augmented
    augment_batches(dataset, ops, ..) -> (features, labels) batches, example j of the batch of
                                         global step s seeded by fold_in([run seed, s], j)

Every random choice is a stateless op (``tf.random.stateless_*``, ``tf.image.stateless_*``)
of a seed made from the run seed, the global step and the example's index in its batch, with
one more fold-in per op (its fixed number, `_OP_NUMBERS`): the same run seed and step
give the same augmented batch on every run, eagerly or inside ``tf.data``, and adding an op
to a config does not change what the others draw.

Ops run in the fixed order of `AUGMENT_OPS` (geometric ops first, then photometric), whatever
the order of the config entry; an op's seed number is its place in `_OP_NUMBERS`, where new
ops are appended, so a recorded run's draws never change when an op is added. Geometric ops move an example's ``boxes`` (float32 [n, 4],
normalized ``[ymin, xmin, ymax, xmax]``) and ``mask`` ([H, W] or [H, W, 1]) with its image;
photometric ops change only the image. ``rotate`` turns by a small angle (boxes become the
enclosing box of their turned corners, clipped); ``rotate90`` needs square images; ``saturation`` and
``hue`` need RGB. Images are uint8 [H, W, C] in and out (the classifier's input contract).
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from collections.abc import Callable, Mapping
from typing import Any

from reproml.errors import ConfigError
from reproml.lazy import lazy_import

tf = lazy_import("tensorflow")

IMAGE_KEY, BOXES_KEY, MASK_KEY = "image", "boxes", "mask"
# The largest angle of the "rotate" op (a small-angle rotation; rotate90 turns by quarters).
MAX_ROTATE_DEGREES = 45.0


def _flag(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError
    return value


def _pixels(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
        raise ValueError
    return int(value)


def _max_delta(limit: float) -> Callable[[Any], float]:
    def check(value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise ValueError
        if not (0 <= value <= limit):  # NaN fails too
            raise ValueError
        return float(value)

    return check


def _factor_range(value: Any) -> list[float]:
    if isinstance(value, str) or not hasattr(value, "__len__") or len(value) != 2:
        raise ValueError
    lower, upper = value
    for bound in (lower, upper):
        if isinstance(bound, bool) or not isinstance(bound, numbers.Real):
            raise ValueError
        if not math.isfinite(bound):
            raise ValueError
    if not 0 <= lower < upper:
        raise ValueError
    return [float(lower), float(upper)]


@dataclasses.dataclass(frozen=True)
class AugmentOp:
    """One augmentation op: its parameter check, what it expects, and whether it moves boxes."""

    check: Callable[[Any], Any]
    expected: str
    geometric: bool  # moves the boxes and mask with the image; else changes only the image


# The ops in the order they run; an op's seed is folded in with its position here.
AUGMENT_OPS: dict[str, AugmentOp] = {
    "flip_left_right": AugmentOp(_flag, "True or False (mirror with probability 1/2)", True),
    "flip_up_down": AugmentOp(_flag, "True or False (flip vertically with probability 1/2)", True),
    "rotate90": AugmentOp(_flag, "True or False (rotate by k * 90 degrees, k in 0..3)", True),
    "random_crop": AugmentOp(
        _pixels, "an int >= 0: pad N zero pixels per side, crop back at a random offset", True
    ),
    "rotate": AugmentOp(
        _max_delta(MAX_ROTATE_DEGREES),
        f"a max angle in degrees in [0, {MAX_ROTATE_DEGREES:g}] (rotate by an angle uniform in"
        " [-max, max] about the centre, zero fill)",
        True,
    ),
    "brightness": AugmentOp(_max_delta(1.0), "a max delta in [0, 1] (of the [0, 1] scale)", False),
    "contrast": AugmentOp(_factor_range, "[lower, upper] factors with 0 <= lower < upper", False),
    "saturation": AugmentOp(_factor_range, "[lower, upper] factors, 0 <= lower < upper", False),
    "hue": AugmentOp(_max_delta(0.5), "a max delta in [0, 0.5]", False),
}
# An op's number, folded into its seed: new ops are appended here (never inserted), so adding
# one to the code does not change what the ops of a recorded run draw.
_OP_NUMBERS = (
    "flip_left_right",
    "flip_up_down",
    "rotate90",
    "random_crop",
    "brightness",
    "contrast",
    "saturation",
    "hue",
    "rotate",
)
_OP_NUMBER = {name: number for number, name in enumerate(_OP_NUMBERS)}


def check_augment(augment: Mapping[str, Any] | None, entry: str = "augment") -> dict[str, Any]:
    """Return the ops of config entry `augment` that do something, in the order they run.

    Args:
      augment: ``{op name: parameter}`` (None or {}: no augmentation). An op set to False or 0
        is left out.
      entry: the config entry named in errors.

    Raises:
      ConfigError: not a dict, an unknown op, or a bad parameter (names ``augment.<op>``).
    """
    if augment is None:
        return {}
    if not isinstance(augment, Mapping):
        raise ConfigError(entry, f"a dict {{op: parameter}} of ops {list(AUGMENT_OPS)}", augment)
    unknown = [name for name in augment if name not in AUGMENT_OPS]
    if unknown:
        raise ConfigError(entry, f"op names among {list(AUGMENT_OPS)}", unknown[0])
    ops = {}
    for name, op in AUGMENT_OPS.items():
        if name not in augment:
            continue
        try:
            value = op.check(augment[name])
        except (ValueError, TypeError):
            raise ConfigError(f"{entry}.{name}", op.expected, augment[name]) from None
        if value is not False and value != 0:
            ops[name] = value
    return ops


def check_image_shape_for(ops: Mapping[str, Any], image_shape: Any, entry: str = "augment") -> None:
    """Refuse ops the images cannot take: ``rotate90`` on non-square, colour ops on grey.

    Raises:
      ConfigError: naming ``augment.<op>`` and the image shape.
    """
    height, width, channels = (int(d) for d in image_shape)
    if "rotate90" in ops and height != width:
        raise ConfigError(f"{entry}.rotate90", "square images (H == W)", list(image_shape))
    for name in ("saturation", "hue"):
        if name in ops and channels != 3:
            raise ConfigError(f"{entry}.{name}", "RGB images (C == 3)", list(image_shape))


def _coin(seed: tf.Tensor) -> tf.Tensor:
    return tf.random.stateless_uniform([], seed) < 0.5


def _flip_boxes(boxes: tf.Tensor, axis: int) -> tf.Tensor:
    """Mirror normalized [ymin, xmin, ymax, xmax] boxes on y (axis 0) or x (axis 1)."""
    ymin, xmin, ymax, xmax = tf.unstack(boxes, axis=-1)
    if axis == 0:
        return tf.stack([1.0 - ymax, xmin, 1.0 - ymin, xmax], axis=-1)
    return tf.stack([ymin, 1.0 - xmax, ymax, 1.0 - xmin], axis=-1)


def _rot90_boxes(boxes: tf.Tensor) -> tf.Tensor:
    """Boxes of an image turned 90 degrees counter-clockwise (`tf.image.rot90`, k=1)."""
    ymin, xmin, ymax, xmax = tf.unstack(boxes, axis=-1)
    return tf.stack([1.0 - xmax, ymin, 1.0 - xmin, ymax], axis=-1)


def _rotation_transform(angle: tf.Tensor, height: tf.Tensor, width: tf.Tensor) -> tf.Tensor:
    """The projective transform turning an image by `angle` (radians; clockwise as displayed).

    Output pixel (x, y) samples the input at the point rotated back about the image centre
    (pixel centres at integer coordinates, the centre at ((W - 1) / 2, (H - 1) / 2)).
    """
    cos, sin = tf.cos(angle), tf.sin(angle)
    w, h = tf.cast(width - 1, tf.float32), tf.cast(height - 1, tf.float32)
    x_offset = (w - (cos * w + sin * h)) / 2.0
    y_offset = (h - (-sin * w + cos * h)) / 2.0
    return tf.stack([cos, sin, x_offset, -sin, cos, y_offset, 0.0, 0.0])[tf.newaxis]


def _rotate_boxes(
    boxes: tf.Tensor, angle: tf.Tensor, height: tf.Tensor, width: tf.Tensor
) -> tf.Tensor:
    """The enclosing boxes of normalized boxes turned by `angle` with their image, clipped.

    Corners are turned in pixel units (so a non-square image turns as its pixels do) about
    the image centre; a box turned partly out of the frame is clipped to it.
    """
    h, w = tf.cast(height, tf.float32), tf.cast(width, tf.float32)
    ymin, xmin, ymax, xmax = tf.unstack(boxes, axis=-1)
    ys = tf.stack([ymin, ymin, ymax, ymax], axis=-1) * h - h / 2.0
    xs = tf.stack([xmin, xmax, xmin, xmax], axis=-1) * w - w / 2.0
    cos, sin = tf.cos(angle), tf.sin(angle)
    # the inverse of `_rotation_transform`'s map (output -> input): input -> output
    turned_x = (xs * cos - ys * sin + w / 2.0) / w
    turned_y = (xs * sin + ys * cos + h / 2.0) / h
    enclosing = tf.stack(
        [
            tf.reduce_min(turned_y, -1),
            tf.reduce_min(turned_x, -1),
            tf.reduce_max(turned_y, -1),
            tf.reduce_max(turned_x, -1),
        ],
        axis=-1,
    )
    return tf.clip_by_value(enclosing, 0.0, 1.0)


def rotate_example(features: Mapping[str, tf.Tensor], degrees: tf.Tensor) -> dict[str, tf.Tensor]:
    """Turn an example's image and mask by `degrees` (clockwise as displayed) and move its boxes.

    The image is resampled bilinearly, the mask by nearest neighbour (ids are never blended),
    both about the image centre with zero fill; each box becomes the enclosing box of its
    turned corners, clipped to [0, 1].
    """
    out = dict(features)
    for key in (IMAGE_KEY, BOXES_KEY, MASK_KEY):
        if key in out:
            out[key] = tf.convert_to_tensor(out[key])
    angle = tf.cast(degrees, tf.float32) * (math.pi / 180.0)
    image = out[IMAGE_KEY]
    height, width = tf.shape(image)[0], tf.shape(image)[1]
    transform = _rotation_transform(angle, height, width)
    for key in _spatial(out):
        value = out[key]
        flat = value[..., tf.newaxis] if value.shape.rank == 2 else value
        turned = tf.raw_ops.ImageProjectiveTransformV3(
            images=flat[tf.newaxis],
            transforms=transform,
            output_shape=tf.stack([height, width]),
            fill_value=tf.constant(0.0),
            interpolation="BILINEAR" if key == IMAGE_KEY else "NEAREST",
            fill_mode="CONSTANT",
        )[0]
        out[key] = tf.ensure_shape(turned[..., 0] if value.shape.rank == 2 else turned, value.shape)
    if BOXES_KEY in out:
        out[BOXES_KEY] = _rotate_boxes(out[BOXES_KEY], angle, height, width)
    return out


def _spatial(features: dict[str, tf.Tensor]) -> list[str]:
    return [key for key in (IMAGE_KEY, MASK_KEY) if key in features]


def _geometric(
    features: dict[str, tf.Tensor], name: str, value: Any, seed: tf.Tensor
) -> dict[str, tf.Tensor]:
    out = dict(features)
    has_boxes = BOXES_KEY in out
    if name in ("flip_left_right", "flip_up_down"):
        axis = 0 if name == "flip_up_down" else 1
        flip = _coin(seed)
        for key in _spatial(out):
            out[key] = tf.where(flip, tf.reverse(out[key], [axis]), out[key])
        if has_boxes:
            out[BOXES_KEY] = tf.where(flip, _flip_boxes(out[BOXES_KEY], axis), out[BOXES_KEY])
    elif name == "rotate90":
        k = tf.random.stateless_uniform([], seed, minval=0, maxval=4, dtype=tf.int32)
        for key in _spatial(out):
            image = out[key]
            if image.shape.rank == 2:
                out[key] = tf.image.rot90(image[..., tf.newaxis], k)[..., 0]
            else:
                out[key] = tf.image.rot90(image, k)
        if has_boxes:
            out[BOXES_KEY] = tf.while_loop(
                lambda i, b: i < k, lambda i, b: (i + 1, _rot90_boxes(b)), (0, out[BOXES_KEY])
            )[1]
    elif name == "random_crop":
        pad = int(value)
        offsets = tf.random.stateless_uniform(
            [2], seed, minval=0, maxval=2 * pad + 1, dtype=tf.int32
        )
        image = out[IMAGE_KEY]
        height, width = tf.shape(image)[0], tf.shape(image)[1]
        for key in _spatial(out):
            image = out[key]
            padded = tf.pad(image, [[pad, pad], [pad, pad]] + [[0, 0]] * (image.shape.rank - 2))
            begin = tf.concat([offsets, tf.zeros([image.shape.rank - 2], tf.int32)], 0)
            size = tf.concat([[height, width], tf.shape(image)[2:]], 0)
            out[key] = tf.ensure_shape(tf.slice(padded, begin, size), image.shape)
        if has_boxes:
            shift = tf.cast(pad - offsets, tf.float32) / tf.cast([height, width], tf.float32)
            moved = out[BOXES_KEY] + tf.concat([shift, shift], 0)
            out[BOXES_KEY] = tf.clip_by_value(moved, 0.0, 1.0)
    elif name == "rotate":
        degrees = tf.random.stateless_uniform([], seed, minval=-value, maxval=value)
        out = rotate_example(out, degrees)
    return out


def _photometric(image: tf.Tensor, name: str, value: Any, seed: tf.Tensor) -> tf.Tensor:
    if name == "brightness":
        return tf.image.stateless_random_brightness(image, value, seed)
    if name == "contrast":
        return tf.image.stateless_random_contrast(image, value[0], value[1], seed)
    if name == "saturation":
        return tf.image.stateless_random_saturation(image, value[0], value[1], seed)
    return tf.image.stateless_random_hue(image, value, seed)


def augment_example(
    features: Mapping[str, tf.Tensor], seed: tf.Tensor, ops: Mapping[str, Any]
) -> dict[str, tf.Tensor]:
    """Return one example's features with `ops` applied to its image, boxes and mask.

    Args:
      features: ``image`` uint8 [H, W, C]; optional ``boxes`` float32 [n, 4] (normalized
        ``[ymin, xmin, ymax, xmax]``) and ``mask`` [H, W] or [H, W, 1]; other keys pass through.
      seed: int32/int64 [2], the example's stateless seed.
      ops: `check_augment`'s result.

    Returns:
      The features, image still uint8 [H, W, C], boxes clipped to [0, 1] after a crop.
    """
    out = dict(features)
    for key in (IMAGE_KEY, BOXES_KEY, MASK_KEY):
        if key in out:
            out[key] = tf.convert_to_tensor(out[key])
    seed = tf.cast(seed, tf.int64)
    photometric = []
    for name, value in ops.items():
        op_seed = tf.random.experimental.stateless_fold_in(seed, _OP_NUMBER[name])
        if AUGMENT_OPS[name].geometric:
            out = _geometric(out, name, value, op_seed)
        else:
            photometric.append((name, value, op_seed))
    if photometric:
        image = tf.image.convert_image_dtype(out[IMAGE_KEY], tf.float32)
        for name, value, op_seed in photometric:
            image = tf.clip_by_value(_photometric(image, name, value, op_seed), 0.0, 1.0)
        out[IMAGE_KEY] = tf.cast(tf.round(image * 255.0), tf.uint8)
    return out


def example_seed(run_seed: int, step: tf.Tensor, index: tf.Tensor) -> tf.Tensor:
    """Return the stateless seed of example `index` of the batch of global step `step`."""
    base = tf.stack([tf.constant(run_seed, tf.int64), tf.cast(step, tf.int64)])
    return tf.random.experimental.stateless_fold_in(base, tf.cast(index, tf.int64))


def augment_batch(
    features: Mapping[str, tf.Tensor], step: tf.Tensor, run_seed: int, ops: Mapping[str, Any]
) -> dict[str, tf.Tensor]:
    """Augment a batch of dense features (``image`` [B, H, W, C], ``mask``) of global step `step`.

    Example j is `augment_example` with ``example_seed(run_seed, step, j)``. Ragged boxes are
    augmented per example (`augment_example` in a ``tf.data`` map before batching).
    """
    dense = {key: features[key] for key in _spatial(dict(features))}
    size = tf.shape(dense[IMAGE_KEY])[0]

    def one(args: tuple[dict[str, tf.Tensor], tf.Tensor]) -> dict[str, tf.Tensor]:
        example, index = args
        return augment_example(example, example_seed(run_seed, step, index), ops)

    signature = {key: tf.TensorSpec(t.shape[1:], t.dtype) for key, t in dense.items()}
    augmented = tf.map_fn(one, (dense, tf.range(size)), fn_output_signature=signature)
    return {**features, **augmented}


def augment_batches(
    dataset: tf.data.Dataset, ops: Mapping[str, Any], run_seed: int, first_step: int = 0
) -> tf.data.Dataset:
    """Augment a dataset of ``(features, labels)`` batches; batch i is global step first_step + i.

    Args:
      dataset: batches, one per training step (an `input_fn`'s dataset).
      ops: `check_augment`'s result (empty: the dataset is returned as it is).
      run_seed: the run's seed.
      first_step: the global step of the first batch (a resumed run's checkpoint step).
    """
    if not ops:
        return dataset

    def apply(step: tf.Tensor, batch: Any) -> Any:
        features, *labels = batch if isinstance(batch, tuple) else (batch,)
        features = augment_batch(features, step, run_seed, ops)
        return (features, *labels) if labels else features

    numbered = dataset.enumerate(start=first_step)
    return numbered.map(apply, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)


def augmented_input_fn(
    input_fn: Callable[..., tf.data.Dataset],
    ops: Mapping[str, Any],
    run_seed: int,
    first_step: Callable[[], int] = lambda: 0,
) -> Callable[..., tf.data.Dataset]:
    """Wrap a train `input_fn` (e.g. `reproml.records.reader.input_fn`) with `augment_batches`.

    `first_step` is called each time the Estimator builds the dataset, so a run resumed from a
    checkpoint augments step s as the uninterrupted run did. ``mode`` and ``input_context`` are
    passed on (per-trainer shards on a cluster).
    """

    def make_dataset(mode: str | None = None, input_context: object = None) -> tf.data.Dataset:
        kwargs = {}
        if mode is not None:
            kwargs["mode"] = mode
        if input_context is not None:
            kwargs["input_context"] = input_context
        return augment_batches(input_fn(**kwargs), ops, run_seed, first_step())

    return make_dataset
