import pickle

import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from handlers import NumericHandler
from handlers.numeric import FLOAT_DTYPES, INT_DTYPES
from reproml.errors import ConfigError, HandlerError
from reproml.records.spec import FeatureSpec
from tests.handlers.roundtrip import PROPERTY, assert_roundtrip

# (handler kwargs, value, expected transformed value)
VALID = [
    (dict(), 1.5, np.float32(1.5)),
    (dict(), 3, np.float32(3)),
    (dict(), np.float64(0.1), np.float32(0.1)),
    (dict(dtype="int64"), 7, np.int64(7)),
    (dict(dtype="int64"), -(2**63), np.int64(-(2**63))),
    (dict(dtype="int64"), 4.0, np.int64(4)),
    (dict(dtype="uint8"), np.int64(255), np.uint8(255)),
    (dict(dtype="uint32"), 2**32 - 1, np.uint32(2**32 - 1)),
    (dict(shape=(3,)), [1, 2.5, -3], np.array([1, 2.5, -3], np.float32)),
    (dict(shape=(2, 2), dtype="int16"), ((1, 2), (3, 4)), np.array([[1, 2], [3, 4]], np.int16)),
    (
        dict(shape=(2,), dtype="float16"),
        np.array([0.5, 65504.0]),
        np.array([0.5, 65504], np.float16),
    ),
    (dict(shape=(2,), allow_nan=True), [np.nan, -np.inf], np.array([np.nan, -np.inf], np.float32)),
    (dict(), 2**24, np.float32(2**24)),
]


@pytest.mark.parametrize("kwargs,value,expected", VALID)
def test_valid_values(kwargs, value, expected):
    handler = NumericHandler(**kwargs)
    out = handler.transform(value, "x")
    assert out.dtype == expected.dtype and out.shape == np.shape(expected)
    np.testing.assert_array_equal(out, expected)
    assert_roundtrip(handler, [value, value], key="x")


# (handler kwargs, value, message substring)
INVALID = [
    (dict(), [1.0], "shape ()"),
    (dict(shape=(3,)), [1.0, 2.0], "expected shape (3,), got shape (2,)"),
    (dict(shape=(2, 2)), np.zeros(4), "got shape (4,)"),
    (dict(shape=(2,)), [[1, 2], [3]], "ragged list"),
    (dict(), np.nan, "finite values"),
    (dict(shape=(2,)), [1.0, np.inf], "1 non-finite value"),
    (dict(), True, "bool of dtype bool"),
    (dict(), "1.5", "a str"),
    (dict(), b"1.5", "a bytes"),
    (dict(), pickle.dumps(1.5), "a bytes"),
    (dict(), None, "NoneType of dtype object"),
    (dict(), object(), "object of dtype object"),
    (dict(shape=(2,)), np.array([1, "a"], dtype=object), "ndarray of dtype object"),
    (dict(), 1j, "complex of dtype complex128"),
    (dict(), tf.constant(1.0), "EagerTensor"),
    (dict(dtype="int64"), 2.5, "whole numbers for dtype int64"),
    (dict(dtype="uint8"), 256, "values in [0, 255] for dtype uint8"),
    (dict(dtype="uint8"), -1, "got values in [-1, -1]"),
    (dict(dtype="int64"), 2**63, "got values in [9223372036854775808, "),
    (dict(dtype="int64"), -(2**63) - 1, "integers beyond 64 bits"),
    (dict(), 1e39, "for dtype float32"),
    (dict(dtype="float16"), 2049, "integers float16 holds exactly"),
    (dict(), 2**24 + 1, "integers float32 holds exactly"),
]


@pytest.mark.parametrize("kwargs,value,message", INVALID)
def test_invalid_values(kwargs, value, message):
    handler = NumericHandler(**kwargs)
    with pytest.raises(HandlerError, match="key 'x'") as err:
        handler.handle({"x": value}, "x")
    assert message in str(err.value)


@pytest.mark.parametrize(
    "kwargs,entry",
    [
        (dict(dtype="float64"), "dtype"),
        (dict(dtype="uint64"), "dtype"),
        (dict(dtype="bool"), "dtype"),
        (dict(shape=(-1,)), "shape"),
        (dict(dtype="int32", allow_nan=True), "allow_nan"),
    ],
)
def test_bad_configuration(kwargs, entry):
    with pytest.raises(ConfigError, match=f"NumericHandler.{entry}"):
        NumericHandler(**kwargs)


@pytest.mark.parametrize(
    "kwargs,spec",
    [
        (dict(), FeatureSpec("float32", "float32", ())),
        (dict(shape=(3,), dtype="float16"), FeatureSpec("float32", "float16", (3,))),
        (dict(shape=(2, 2), dtype="uint8"), FeatureSpec("int64", "uint8", (2, 2))),
    ],
)
def test_spec(kwargs, spec):
    assert NumericHandler(**kwargs).spec() == spec


shapes = hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=4)


@PROPERTY
@given(st.sampled_from(INT_DTYPES), shapes, st.data())
def test_property_integers_round_trip_exactly(dtype, shape, data):
    value = data.draw(hnp.arrays(dtype, shape))
    handler = NumericHandler(shape=shape, dtype=dtype)
    np.testing.assert_array_equal(handler.transform(value, "x"), value)
    assert_roundtrip(handler, [value, value.tolist()], key="x")


@PROPERTY
@given(
    st.sampled_from(FLOAT_DTYPES),
    shapes,
    st.data(),
)
def test_property_floats_round_trip_within_float32(dtype, shape, data):
    limit = float(np.finfo(dtype).max)
    elements = st.floats(-limit, limit, allow_nan=False, allow_infinity=False)
    value = data.draw(hnp.arrays(np.float64, shape, elements=elements))
    handler = NumericHandler(shape=shape, dtype=dtype)
    out = handler.transform(value, "x")
    assert out.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(out, value.astype(dtype))
    assert_roundtrip(handler, [value], key="x")


@PROPERTY
@given(st.sampled_from(INT_DTYPES), st.integers(-(2**70), 2**70))
def test_property_out_of_range_integers_are_refused(dtype, value):
    info = np.iinfo(dtype)
    handler = NumericHandler(dtype=dtype)
    if info.min <= value <= info.max:
        assert handler.transform(value, "x") == value
    else:
        with pytest.raises(HandlerError, match="key 'x'"):
            handler.transform(value, "x")


@PROPERTY
@given(shapes, shapes)
def test_property_wrong_shape_is_refused(expected, got):
    handler = NumericHandler(shape=expected)
    value = np.zeros(got)
    if expected == got:
        assert handler.transform(value, "x").shape == expected
    else:
        with pytest.raises(HandlerError) as err:
            handler.transform(value, "x")
        assert f"expected shape {expected}, got shape {got}" in str(err.value)
