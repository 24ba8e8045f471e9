"""The writer's hand-written fast paths give exactly the bytes of the plain code they replace."""

import re

import numpy as np
import pytest

from handlers import ImageArrayHandler
from reproml.errors import HandlerError
from reproml.records import tfrecord_io
from reproml.records.example_codec import stack_uniform

RNG = np.random.default_rng(3)

# name -> values that share one shape and dtype (stack_uniform's concatenate path, or 0-d).
UNIFORM = {
    "mnist-like uint8 images": [RNG.integers(0, 256, (28, 28), dtype=np.uint8) for _ in range(9)],
    "float vectors": [RNG.normal(size=3).astype(np.float32) for _ in range(4)],
    "0-d arrays": [np.array(i, dtype=np.int64) for i in range(5)],
    "zero-size first axis": [np.zeros((0, 3), np.float64)] * 3,
    "zero-size last axis": [np.zeros((2, 0), np.uint8)] * 3,
    "Fortran-ordered": [np.asfortranarray(RNG.integers(0, 9, (3, 4))) for _ in range(3)],
    "non-contiguous views": [RNG.integers(0, 9, (6, 8))[::2, 1::3] for _ in range(3)],
    "big-endian": [RNG.integers(0, 9, (2, 3)).astype(">i4") for _ in range(3)],
    "bool": [RNG.integers(0, 2, (2, 2)).astype(bool) for _ in range(3)],
    "one value": [RNG.integers(0, 256, (4, 5, 3), dtype=np.uint8)],
}


@pytest.mark.parametrize("name", UNIFORM)
def test_stack_uniform_equals_np_stack(name):
    values = UNIFORM[name]
    stacked = stack_uniform(values)
    expected = np.stack(values)
    assert stacked.dtype == expected.dtype
    assert stacked.shape == expected.shape
    assert stacked.tobytes() == expected.tobytes()
    assert not any(np.shares_memory(stacked, v) for v in values)


NOT_UNIFORM = {
    "empty": [],
    "two shapes": [np.zeros((2, 3)), np.zeros((3, 2))],
    "same size, other first axis": [np.zeros((28, 28)), np.zeros((27, 28))],
    "two dtypes": [np.zeros(3, np.uint8), np.zeros(3, np.int32)],
    "two byte orders": [np.zeros(3, "<i4"), np.zeros(3, ">i4")],
    "a list": [np.zeros(3), [0.0, 0.0, 0.0]],
    "an ndarray subclass": [np.zeros((2, 2)), np.ma.zeros((2, 2))],
    "a scalar first": [np.float64(1.0), np.float64(2.0)],
}


@pytest.mark.parametrize("name", NOT_UNIFORM)
def test_stack_uniform_refuses_what_is_not_uniform(name):
    assert stack_uniform(NOT_UNIFORM[name]) is None


@pytest.mark.parametrize(
    "records",
    [
        RNG.integers(0, 256, (7, 33), dtype=np.uint8),
        RNG.integers(0, 256, (1, 0), dtype=np.uint8),
        np.zeros((0, 5), np.uint8),
        [b"", b"a", bytes(range(256))],
        [],
    ],
    ids=["fixed-length array", "empty records", "no records (array)", "list of bytes", "none"],
)
def test_frame_records_buffer_holds_the_bytes_of_frame_records(records):
    buffer = tfrecord_io.frame_records_buffer(records)
    assert bytes(buffer) == tfrecord_io.frame_records(records)
    assert len(buffer) == len(tfrecord_io.frame_records(records))
    for compression in ("GZIP", "ZLIB"):
        assert tfrecord_io.compress(buffer, compression) == tfrecord_io.compress(
            tfrecord_io.frame_records(records), compression
        )


def test_frame_records_buffer_of_an_array_is_a_flat_byte_view():
    buffer = tfrecord_io.frame_records_buffer(np.zeros((3, 5), np.uint8))
    assert isinstance(buffer, memoryview)
    assert (buffer.format, buffer.ndim, buffer.nbytes) == ("B", 1, 3 * (5 + 16))


IMAGES = [RNG.integers(0, 200, (4, 5), dtype=np.uint8) for _ in range(6)]

# Safe casts skip the range checks; the bytes must still be those of the per-value path.
SAFE_CASTS = {
    "uint8 -> uint8": ("uint8", IMAGES),
    "uint8 -> uint16": ("uint16", IMAGES),
    "int16 -> float32": ("float32", [i.astype(np.int16) - 100 for i in IMAGES]),
    "float32 -> float64": ("float64", [i.astype(np.float32) / 7 for i in IMAGES]),
    "bool -> uint8": ("uint8", [i > 100 for i in IMAGES]),
    "big-endian uint16 -> uint16": ("uint16", [i.astype(">u2") * 300 for i in IMAGES]),
}


@pytest.mark.parametrize("name", SAFE_CASTS)
def test_image_safe_cast_batch_equals_per_value_and_owns_its_memory(name):
    dtype, values = SAFE_CASTS[name]
    handler = ImageArrayHandler(shape=(4, 5), dtype=dtype)
    transformed = handler.transform_batch(values, "image")
    assert not any(np.shares_memory(transformed, v) for v in values)
    batch = [bytes(row) for row in handler.handle_batch(values, "image")["image"]]
    per_value = [handler.handle({"image": v}, "image")["image"].SerializeToString() for v in values]
    assert batch == per_value


@pytest.mark.parametrize(
    ("dtype", "bad", "message"),
    [
        ("uint8", np.full((4, 5), 256, np.uint16), "expected values that fit uint8 [0, 255]"),
        ("int8", np.full((4, 5), 200, np.uint8), "expected values that fit int8 [-128, 127]"),
        ("float16", np.full((4, 5), 1e6, np.float32), "expected values that fit float16"),
    ],
    ids=["uint16 -> uint8", "uint8 -> int8", "float32 -> float16"],
)
def test_image_unsafe_cast_still_checks_the_range_and_names_the_row(dtype, bad, message):
    handler = ImageArrayHandler(shape=(4, 5), dtype=dtype)
    values = [np.zeros((4, 5), bad.dtype), np.zeros((4, 5), bad.dtype), bad]
    with pytest.raises(HandlerError, match=re.escape(message)) as err:
        handler.handle_batch(values, "image")
    assert err.value.row == 2
