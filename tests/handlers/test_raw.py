import pickle

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from handlers import BytesHandler, StringHandler
from reproml.errors import HandlerError
from reproml.records.spec import FeatureSpec
from tests.handlers.roundtrip import PROPERTY, assert_roundtrip

# (handler, value, expected transformed bytes)
VALID = [
    (BytesHandler, b"", b""),
    (BytesHandler, b"\x00\xff\x89PNG", b"\x00\xff\x89PNG"),
    (BytesHandler, bytearray(b"abc"), b"abc"),
    (BytesHandler, memoryview(b"abc"), b"abc"),
    (BytesHandler, np.bytes_(b"np"), b"np"),
    (BytesHandler, pickle.dumps([1, 2]), pickle.dumps([1, 2])),  # opaque bytes are bytes
    (StringHandler, "", b""),
    (StringHandler, "cat", b"cat"),
    (StringHandler, "Zürich 東京 🙂", "Zürich 東京 🙂".encode()),
    (StringHandler, np.str_("np"), b"np"),
]


@pytest.mark.parametrize("cls,value,expected", VALID)
def test_valid_values(cls, value, expected):
    handler = cls()
    out = handler.transform(value, "text")
    assert type(out) is bytes and out == expected
    assert_roundtrip(handler, [value, value], key="text")


# (handler, value, message substring)
INVALID = [
    (BytesHandler, "text", "expected bytes (use StringHandler for text), got str 'text'"),
    (BytesHandler, 3, "got int 3"),
    (BytesHandler, None, "got NoneType None"),
    (BytesHandler, [b"a"], "got list [b'a']"),
    (BytesHandler, np.array([b"a"]), "got ndarray"),
    (BytesHandler, object(), "got object"),
    (StringHandler, b"cat", "expected a str (use BytesHandler for bytes), got bytes b'cat'"),
    (StringHandler, pickle.dumps("cat"), "got bytes"),
    (StringHandler, 3, "got int 3"),
    (StringHandler, ["a"], "got list"),
    (StringHandler, np.array("a", dtype=object), "got ndarray"),
    (StringHandler, "bad \ud800", "a str that UTF-8 can encode, got 'bad \\ud800' (surrogates"),
]


@pytest.mark.parametrize("cls,value,message", INVALID)
def test_invalid_values(cls, value, message):
    with pytest.raises(HandlerError, match="key 'text'") as err:
        cls().handle({"text": value}, "text")
    assert message in str(err.value)


def test_long_values_are_cut_in_messages():
    with pytest.raises(HandlerError) as err:
        BytesHandler().transform("x" * 10_000, "text")
    assert len(str(err.value)) < 200


@pytest.mark.parametrize("cls", [BytesHandler, StringHandler])
def test_spec(cls):
    assert cls().spec() == FeatureSpec("bytes", "string", ())


@PROPERTY
@given(st.lists(st.binary(max_size=64), min_size=1, max_size=4))
def test_property_bytes_round_trip(values):
    assert_roundtrip(BytesHandler(), values, key="text")


@PROPERTY
@given(st.lists(st.text(max_size=32), min_size=1, max_size=4))
def test_property_text_round_trips_as_utf8(values):
    handler = StringHandler()
    assert [handler.transform(v, "text").decode("utf-8") for v in values] == values
    assert_roundtrip(handler, values, key="text")


@PROPERTY
@given(st.one_of(st.text(), st.integers(), st.floats(), st.none(), st.lists(st.binary())))
def test_property_bytes_handler_refuses_non_bytes(value):
    with pytest.raises(HandlerError, match="expected bytes"):
        BytesHandler().transform(value, "text")


@PROPERTY
@given(st.one_of(st.binary(), st.integers(), st.floats(), st.none(), st.lists(st.text())))
def test_property_string_handler_refuses_non_str(value):
    with pytest.raises(HandlerError, match="expected a str"):
        StringHandler().transform(value, "text")
