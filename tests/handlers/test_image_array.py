import pickle

import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from handlers import ImageArrayHandler
from handlers.image import IMAGE_DTYPES
from reproml.errors import ConfigError, HandlerError
from reproml.records.spec import FeatureSpec
from tests.handlers.roundtrip import PROPERTY, assert_roundtrip

U8 = np.array([[0, 10], [200, 255]], dtype=np.uint8)

# (handler kwargs, value, expected transformed value)
VALID = [
    ("same shape", dict(shape=(2, 2)), U8, U8),
    ("gray gets a channel axis", dict(shape=(2, 2, 1)), U8, U8[:, :, None]),
    ("C=1 squeezed for a 2-D target", dict(shape=(2, 2)), U8[:, :, None], U8),
    ("gray repeated to RGB", dict(shape=(2, 2, 3)), U8, np.stack([U8] * 3, axis=-1)),
    ("C=1 repeated to RGB", dict(shape=(2, 2, 3)), U8[:, :, None], np.stack([U8] * 3, axis=-1)),
    ("whole floats cast", dict(shape=(2, 2)), U8.astype(np.float64), U8),
    ("int64 that fits", dict(shape=(2, 2)), U8.astype(np.int64), U8),
    ("bool as 0/1", dict(shape=(1, 2)), np.array([[True, False]]), np.array([[1, 0]], np.uint8)),
    (
        "scale 0..255 -> 0..1 float32",
        dict(shape=(2, 2), dtype="float32", scale=(0, 255, 0, 1)),
        np.array([[0, 51], [102, 255]], np.uint8),
        np.array([[0.0, 0.2], [0.4, 1.0]], np.float32),
    ),
    (
        "scale 0..1 -> 0..255 rounds to nearest",
        dict(shape=(2, 2), scale=(0, 1, 0, 255)),
        np.array([[0.0, 0.5], [1.0, 0.25]]),
        np.array([[0, 128], [255, 64]], np.uint8),
    ),
    (
        "bilinear resize 2x2 -> 3x3 (corners aligned)",
        dict(shape=(3, 3)),
        np.array([[0, 2], [4, 6]], np.uint8),
        np.array([[0, 1, 2], [2, 3, 4], [4, 5, 6]], np.uint8),
    ),
    (
        "resize keeps channels apart",
        dict(shape=(1, 3, 2), dtype="int16"),
        np.array([[[0, -10], [4, 10]]], np.int16),
        np.array([[[0, -10], [2, 0], [4, 10]]], np.int16),
    ),
    (
        "float64 to float16",
        dict(shape=(1, 2), dtype="float16"),
        np.array([[0.5, -65504.0]]),
        np.array([[0.5, -65504.0]], np.float16),
    ),
]


@pytest.mark.parametrize("kwargs,value,expected", [v[1:] for v in VALID], ids=[v[0] for v in VALID])
def test_valid_values(kwargs, value, expected):
    handler = ImageArrayHandler(**kwargs)
    out = handler.transform(value, "image")
    assert out.dtype == expected.dtype and out.shape == expected.shape
    np.testing.assert_allclose(out, expected, rtol=1e-6)
    assert_roundtrip(handler, [value, value], key="image")


# (handler kwargs, value, message substring)
INVALID = [
    ("list", dict(shape=(2, 2)), [[0, 1], [2, 3]], "got a list"),
    ("pickled array", dict(shape=(2, 2)), pickle.dumps(U8), "got a bytes"),
    ("tf tensor", dict(shape=(2, 2)), tf.constant(U8), "EagerTensor"),
    ("object array", dict(shape=(1, 2)), np.array([[1, "a"]], dtype=object), "dtype object"),
    ("str array", dict(shape=(1, 2)), np.array([["a", "b"]]), "dtype <U1"),
    ("complex array", dict(shape=(1, 1)), np.array([[1j]]), "dtype complex128"),
    ("1-D", dict(shape=(2, 2)), np.zeros(4, np.uint8), "shape (4,)"),
    ("4-D", dict(shape=(2, 2)), np.zeros((1, 2, 2, 1), np.uint8), "shape (1, 2, 2, 1)"),
    ("empty", dict(shape=(2, 2)), np.zeros((0, 2), np.uint8), "shape (0, 2)"),
    ("NaN", dict(shape=(2, 2), dtype="float32"), np.full((2, 2), np.nan), "finite values"),
    ("inf", dict(shape=(1, 1), dtype="float32"), np.array([[np.inf]]), "1 non-finite"),
    ("RGB into gray", dict(shape=(2, 2, 1)), np.zeros((2, 2, 3), np.uint8), "3 channel(s)"),
    ("RGBA into RGB", dict(shape=(2, 2, 3)), np.zeros((2, 2, 4), np.uint8), "3 channel(s)"),
    ("RGB into 2-D", dict(shape=(2, 2)), np.zeros((2, 2, 3), np.uint8), "no channel axis"),
    ("above uint8", dict(shape=(1, 1)), np.array([[256]]), "fit uint8 [0, 255]"),
    ("below uint8", dict(shape=(1, 1)), np.array([[-1]], np.int8), "values in [-1, -1]"),
    ("fraction for uint8", dict(shape=(1, 2)), np.array([[1.0, 0.5]]), "whole numbers"),
    ("above float16", dict(shape=(1, 1), dtype="float16"), np.array([[7e4]]), "fit float16"),
    (
        "outside scale input",
        dict(shape=(1, 2), dtype="float32", scale=(0, 255, 0, 1)),
        np.array([[0, 300]]),
        "the scale's input range",
    ),
]


@pytest.mark.parametrize(
    "kwargs,value,message", [v[1:] for v in INVALID], ids=[v[0] for v in INVALID]
)
def test_invalid_values(kwargs, value, message):
    handler = ImageArrayHandler(**kwargs)
    with pytest.raises(HandlerError, match="key 'image'") as err:
        handler.handle({"image": value}, "image")
    assert message in str(err.value)


@pytest.mark.parametrize(
    "kwargs,entry",
    [
        (dict(shape=(28,)), "shape"),
        (dict(shape=(0, 28)), "shape"),
        (dict(shape=(2, 2), dtype="uint32"), "dtype"),
        (dict(shape=(2, 2), dtype="complex64"), "dtype"),
        (dict(shape=(2, 2), scale=(0, 1)), "scale"),
        (dict(shape=(2, 2), scale=(1, 0, 0, 1)), "scale"),
        (dict(shape=(2, 2), scale=(0, float("inf"), 0, 1)), "scale"),
    ],
)
def test_bad_configuration(kwargs, entry):
    with pytest.raises(ConfigError, match=f"ImageArrayHandler.{entry}"):
        ImageArrayHandler(**kwargs)


def test_spec_and_raw_little_endian_bytes():
    handler = ImageArrayHandler((1, 2), dtype="uint16")
    assert handler.spec() == FeatureSpec("tensor_bytes", "uint16", (1, 2))
    feature = handler.handle({"x": np.array([[1, 258]], np.uint16)}, "x")["x"]
    assert feature.bytes_list.value == [b"\x01\x00\x02\x01"]


def test_resize_digits_8x8_to_28x28_matches_align_corners_bilinear(digits):
    handler = ImageArrayHandler((28, 28, 1), dtype="float32")
    images = [handler.transform(d, "image") for d in digits]
    # TF's own align-corners bilinear resize is an independent implementation of the same map.
    reference = tf.compat.v1.image.resize_bilinear(
        digits[..., None].astype(np.float32), (28, 28), align_corners=True
    ).numpy()
    np.testing.assert_allclose(np.stack(images), reference, atol=1e-4)
    for image, digit in zip(images, digits, strict=True):
        assert image.shape == (28, 28, 1) and image.dtype == np.float32
        corners = image[[0, 0, -1, -1], [0, -1, 0, -1], 0]
        np.testing.assert_array_equal(corners, digit[[0, 0, -1, -1], [0, -1, 0, -1]])
    # Deterministic: the same input gives the same bytes.
    assert handler.handle({"image": digits[0]}, "image") == handler.handle(
        {"image": digits[0]}, "image"
    )
    assert_roundtrip(handler, list(digits), key="image")


def test_resize_and_scale_digits_to_uint8(digits):
    handler = ImageArrayHandler((28, 28, 1), dtype="uint8", scale=(0, 16, 0, 255))
    as_float = ImageArrayHandler((28, 28, 1), dtype="float64", scale=(0, 16, 0, 255))
    for digit in digits:
        image = handler.transform(digit, "image")
        np.testing.assert_array_equal(image, np.rint(as_float.transform(digit, "image")))
        assert image.max() <= 255 and image[0, 0, 0] == round(digit[0, 0] * 255 / 16)
    assert_roundtrip(handler, list(digits), key="image")


# --- properties -------------------------------------------------------------------------------

INT_DTYPES = [d for d in IMAGE_DTYPES if np.dtype(d).kind in "iu"]
FLOAT_DTYPES = [d for d in IMAGE_DTYPES if np.dtype(d).kind == "f"]


@st.composite
def images(draw, dtypes=IMAGE_DTYPES):
    dtype = np.dtype(draw(st.sampled_from(dtypes)))
    shape = draw(st.tuples(st.integers(1, 5), st.integers(1, 5), st.sampled_from([None, 1, 3])))
    shape = shape[:2] if shape[2] is None else shape
    if dtype.kind == "f":
        width = dtype.itemsize * 8
        elements = st.floats(allow_nan=False, allow_infinity=False, width=width)
    else:
        elements = None
    return draw(hnp.arrays(dtype, shape, elements=elements))


@PROPERTY
@given(images())
def test_property_same_shape_and_dtype_is_unchanged(image):
    handler = ImageArrayHandler(image.shape, dtype=image.dtype.name)
    out = handler.transform(image, "image")
    assert out.dtype == image.dtype
    np.testing.assert_array_equal(out, image)
    assert_roundtrip(handler, [image], key="image")


@PROPERTY
@given(images(dtypes=["uint8", "int16"]), st.integers(1, 7), st.integers(1, 7))
def test_property_resize_stays_within_input_range(image, height, width):
    handler = ImageArrayHandler((height, width) + image.shape[2:], dtype=image.dtype.name)
    out = handler.transform(image, "image")
    assert out.shape == (height, width) + image.shape[2:]
    assert image.min() <= out.min() and out.max() <= image.max()
    assert_roundtrip(handler, [image], key="image")


@PROPERTY
@given(images(dtypes=FLOAT_DTYPES), st.data())
def test_property_non_finite_is_refused(image, data):
    index = tuple(data.draw(st.integers(0, n - 1)) for n in image.shape)
    image = image.copy()
    image[index] = data.draw(st.sampled_from([np.nan, np.inf, -np.inf]))
    with pytest.raises(HandlerError, match="finite values"):
        ImageArrayHandler(image.shape, dtype=image.dtype.name).transform(image, "image")


@PROPERTY
@given(
    hnp.arrays(np.int32, st.tuples(st.integers(1, 4), st.integers(1, 4))),
    st.sampled_from(INT_DTYPES),
)
def test_property_values_that_do_not_fit_are_refused_not_wrapped(image, dtype):
    info = np.iinfo(dtype)
    handler = ImageArrayHandler(image.shape, dtype=dtype)
    if image.min() >= info.min and image.max() <= info.max:
        np.testing.assert_array_equal(handler.transform(image, "image"), image)
    else:
        with pytest.raises(HandlerError, match=f"values that fit {dtype}"):
            handler.transform(image, "image")


@PROPERTY
@given(images(), st.integers(1, 3))
def test_property_wrong_ndim_is_refused(image, extra):
    image = image.reshape(image.shape + (1,) * extra) if image.ndim + extra > 3 else image.ravel()
    with pytest.raises(HandlerError, match="2-D"):
        ImageArrayHandler((2, 2)).transform(image, "image")
