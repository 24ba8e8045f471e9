"""`handle_batch` (what write_records calls per shard) gives the bytes and errors of `handle`.

The image, label and numeric handlers check and encode a uniform shard at once with NumPy; any
other shard, or any shard with a bad value, goes value by value. Either way the result must be
exactly what `handle` gives value by value, and a bad value's error names its row.
"""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from handlers import BytesHandler, ClassLabelHandler, ImageArrayHandler, NumericHandler
from reproml.errors import HandlerError
from tests.handlers.roundtrip import PROPERTY

RNG = np.random.default_rng(7)
IMAGES_2D = [RNG.integers(0, 256, (4, 5), dtype=np.uint8) for _ in range(6)]

CASES = {
    "image gray -> (H,W,1)": (ImageArrayHandler(shape=(4, 5, 1)), IMAGES_2D),
    "image gray -> (H,W,3)": (ImageArrayHandler(shape=(4, 5, 3)), IMAGES_2D),
    "image (H,W,1) -> (H,W)": (ImageArrayHandler(shape=(4, 5)), [i[..., None] for i in IMAGES_2D]),
    "image float whole -> uint8": (
        ImageArrayHandler(shape=(4, 5)),
        [i.astype(np.float32) for i in IMAGES_2D],
    ),
    "image to float32": (ImageArrayHandler(shape=(4, 5), dtype="float32"), IMAGES_2D),
    "image resized (per value)": (ImageArrayHandler(shape=(8, 10)), IMAGES_2D),
    "image scaled (per value)": (
        ImageArrayHandler(shape=(4, 5), dtype="float32", scale=(0, 255, 0, 1)),
        IMAGES_2D,
    ),
    "image mixed dtypes (per value)": (
        ImageArrayHandler(shape=(4, 5)),
        [IMAGES_2D[0], IMAGES_2D[1].astype(np.int32)],
    ),
    "label ints": (ClassLabelHandler(num_classes=10), [0, 9, np.int64(3), np.uint8(4)]),
    "label names": (ClassLabelHandler(names=["cat", "dog"]), ["dog", "cat", "dog"]),
    "label mixed (per value)": (ClassLabelHandler(names=["cat", "dog"]), ["dog", 0, np.array(1)]),
    "numeric python floats": (NumericHandler(), [0.5, -2.0, 3]),
    "numeric vectors": (
        NumericHandler(shape=(3,)),
        [RNG.normal(size=3).astype(np.float32) for _ in range(4)],
    ),
    "numeric int64": (
        NumericHandler(shape=(2,), dtype="int64"),
        [np.array([1, -(2**40)]), np.array([5, 6])],
    ),
    "numeric empty vectors": (NumericHandler(shape=(0,)), [np.zeros(0, np.float32)] * 3),
    "numeric nan allowed": (NumericHandler(allow_nan=True), [np.float32("nan"), 1.0]),
    "bytes (per value)": (BytesHandler(), [b"a", b"", b"\x00\xff"]),
}


def per_value(handler, values, key="x"):
    return [handler.handle({key: v}, key)[key].SerializeToString() for v in values]


def as_list(column):
    return [bytes(row) if isinstance(row, np.ndarray) else row for row in column]


@pytest.mark.parametrize("name", CASES)
def test_batch_bytes_equal_per_value_bytes(name):
    handler, values = CASES[name]
    assert as_list(handler.handle_batch(values, "x")["x"]) == per_value(handler, values)


BAD = {
    "image with NaN": (
        ImageArrayHandler(shape=(4, 5), dtype="float32"),
        2,
        np.full((4, 5), np.nan),
    ),
    "image out of uint8 range": (
        ImageArrayHandler(shape=(4, 5)),
        1,
        np.full((4, 5), 300, np.int32),
    ),
    "image wrong channels": (ImageArrayHandler(shape=(4, 5, 1)), 3, np.zeros((4, 5, 2), np.uint8)),
    "label out of range": (ClassLabelHandler(num_classes=3), 2, 3),
    "label unknown name": (ClassLabelHandler(names=["cat", "dog"]), 1, "cow"),
    "label bool": (ClassLabelHandler(num_classes=3), 0, True),
    "numeric NaN": (NumericHandler(), 2, float("nan")),
    "numeric wrong shape": (NumericHandler(shape=(3,)), 1, np.zeros(4, np.float32)),
}


@pytest.mark.parametrize("name", BAD)
def test_a_bad_value_gets_the_per_value_error_at_its_row(name):
    handler, row, bad = BAD[name]
    good = {
        ImageArrayHandler: np.zeros((4, 5), bad.dtype if isinstance(bad, np.ndarray) else np.uint8),
        ClassLabelHandler: 0,
        NumericHandler: np.zeros(handler.shape, np.float32) if handler.shape else 0.0,
    }[type(handler)]
    if isinstance(handler, ImageArrayHandler) and bad.shape[2:]:
        good = np.zeros((4, 5, 1), np.uint8)
    values = [good] * 4
    values[row] = bad
    with pytest.raises(HandlerError) as per_value_error:
        handler.handle({"x": bad}, "x")
    with pytest.raises(HandlerError) as batch_error:
        handler.handle_batch(values, "x")
    assert batch_error.value.row == row
    assert (batch_error.value.expected, batch_error.value.got) == (
        per_value_error.value.expected,
        per_value_error.value.got,
    )
    assert f"row {row}, key 'x'" in str(batch_error.value)


@PROPERTY
@given(
    images=st.lists(
        hnp.arrays(np.uint8, (3, 4), elements=st.integers(0, 255)), min_size=1, max_size=6
    ),
    labels=st.lists(st.integers(0, 4), min_size=1, max_size=6),
)
def test_random_shards_encode_like_per_value(images, labels):
    image_handler = ImageArrayHandler(shape=(3, 4, 1))
    label_handler = ClassLabelHandler(num_classes=5)
    assert as_list(image_handler.handle_batch(images, "i")["i"]) == per_value(
        image_handler, images, "i"
    )
    assert as_list(label_handler.handle_batch(labels, "l")["l"]) == per_value(
        label_handler, labels, "l"
    )
