"""Variable-length features: sequences, sets of labels, boxes and masks; round trips and bad input."""

from __future__ import annotations

import io
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from handlers import (
    BoxesHandler,
    EncodedImageHandler,
    MaskHandler,
    MultiLabelHandler,
    SequenceHandler,
)
from reproml.errors import ConfigError, HandlerError
from reproml.records.spec import FeatureSpec
from tests.handlers.decode_ways import assert_all_ways_equal
from tests.handlers.roundtrip import PROPERTY

FRUIT = ("apple", "banana", "fig")


@pytest.mark.parametrize(
    ("handler", "values", "expected"),
    [
        (
            SequenceHandler("int64"),
            [[3, 1, 4], [], np.array([-5, 2**40], np.int64), (7,)],
            [[3, 1, 4], np.zeros(0), [-5, 2**40], [7]],
        ),
        (
            SequenceHandler("float32"),
            [[0.5, -1.25], [], np.arange(5, dtype=np.float64) / 4],
            [[0.5, -1.25], np.zeros(0), np.arange(5) / 4],
        ),
        (
            SequenceHandler("float32", inner_shape=(2,)),
            [[[0, 1], [2, 3], [4, 5]], [], [[0.5, 0.25]]],
            [[[0, 1], [2, 3], [4, 5]], np.zeros((0, 2)), [[0.5, 0.25]]],
        ),
        (
            SequenceHandler("string"),
            [["the", "cat"], [], ["ünïcode", ""]],
            [[b"the", b"cat"], np.zeros(0, "S"), ["ünïcode".encode(), b""]],
        ),
        (
            MultiLabelHandler(FRUIT, decode_as="ids"),
            [{"fig", "apple"}, [], ["banana"], [2, 0, 1]],
            [[0, 2], np.zeros(0), [1], [0, 1, 2]],
        ),
        (
            MultiLabelHandler(FRUIT),
            [{"fig", "apple"}, [], ["banana"], [2, 0, 1]],
            [[1, 0, 1], [0, 0, 0], [0, 1, 0], [1, 1, 1]],
        ),
    ],
    ids=["int64", "float32", "float32-pairs", "string", "labels-ids", "labels-multi-hot"],
)
def test_round_trip_exact_eagerly_and_in_tf_data(handler, values, expected):
    assert_all_ways_equal(handler, values, "x", {"x": expected})


def test_specs_are_derived_and_survive_the_manifest_json():
    specs = [
        SequenceHandler("int64").spec(),
        SequenceHandler("float32", inner_shape=(2, 3)).spec(),
        SequenceHandler("string").spec(),
        MultiLabelHandler(FRUIT).spec(),
        MultiLabelHandler(FRUIT, decode_as="ids").spec(),
        *BoxesHandler(FRUIT).feature_specs("objects").values(),
        MaskHandler("image", (8, 8)).spec(),
    ]
    for spec in specs:
        assert FeatureSpec.from_json(spec.to_json()) == spec
    assert MultiLabelHandler(FRUIT).spec().to_json() == {
        "encoding": "ragged_int64",
        "dtype": "float32",
        "shape": [3],
        "names": list(FRUIT),
        "decode_as": "multi_hot",
    }


def test_inner_shape_of_two_dims_round_trips():
    handler = SequenceHandler("int64", inner_shape=(2, 3))
    value = np.arange(12).reshape(2, 2, 3)
    assert_all_ways_equal(handler, [value, value[:1]], "x", {"x": [value, value[:1]]})


def test_boxes_with_labels_round_trip():
    handler = BoxesHandler(FRUIT)
    values = [
        {"boxes": [[0.1, 0.2, 0.5, 0.6], [0, 0, 1, 1]], "labels": ["fig", 0]},
        {"boxes": [], "labels": []},
        {"boxes": np.array([[0.25, 0.5, 0.75, 1.0]]), "labels": ["banana"]},
    ]
    expected = {
        "x": [
            np.array([[0.1, 0.2, 0.5, 0.6], [0, 0, 1, 1]], np.float32),
            np.zeros((0, 4), np.float32),
            np.array([[0.25, 0.5, 0.75, 1.0]], np.float32),
        ],
        "x/label": [[2, 0], np.zeros(0), [1]],
    }
    assert_all_ways_equal(handler, values, "x", expected)


def _png(array: np.ndarray) -> bytes:
    out = io.BytesIO()
    Image.fromarray(array).save(out, "PNG")
    return out.getvalue()


def test_mask_round_trips_with_nearest_resampling_and_matches_its_image():
    image = _png(np.zeros((4, 6, 3), np.uint8))
    ids = np.array([[0, 0, 1, 1, 2, 2]] * 2 + [[3, 3, 3, 0, 0, 0]] * 2, np.uint8)
    handler = MaskHandler.for_image("image", EncodedImageHandler(size=(8, 12)))
    rows = [{"mask": ids, "image": image}, {"mask": _png(ids), "image": image}]
    expected = np.repeat(np.repeat(ids, 2, axis=0), 2, axis=1)[:, :, None]
    assert handler.transform((ids, image), "mask") == handler.transform((_png(ids), image), "mask")
    assert_all_ways_equal(handler, rows, "mask", {"mask": [expected, expected]}, as_rows=True)


GOOD_BOX = [0.1, 0.1, 0.5, 0.5]
BOX_RULE = (
    "expected boxes [ymin, xmin, ymax, xmax] with 0 <= ymin < ymax <= 1 and 0 <= xmin < xmax <= 1"
)


@pytest.mark.parametrize(
    ("handler", "value", "message"),
    [
        (
            BoxesHandler(FRUIT),
            {"boxes": [GOOD_BOX, [0.1, 0.2, 0.5, 1.2]], "labels": [0, 1]},
            f"{BOX_RULE}, got box 1 [0.1, 0.2, 0.5, 1.2] (outside [0, 1])",
        ),
        (
            BoxesHandler(FRUIT),
            {"boxes": [[0.6, 0.2, 0.5, 0.4]], "labels": [0]},
            f"{BOX_RULE}, got box 0 [0.6, 0.2, 0.5, 0.4] (ymin >= ymax)",
        ),
        (
            BoxesHandler(FRUIT),
            {"boxes": [GOOD_BOX, GOOD_BOX, [0.1, 0.4, 0.5, 0.4]], "labels": [0, 1, 2]},
            f"{BOX_RULE}, got box 2 [0.1, 0.4, 0.5, 0.4] (xmin >= xmax)",
        ),
        (
            BoxesHandler(FRUIT),
            {"boxes": [[-0.1, 0, 0.5, 0.5]], "labels": [0]},
            f"{BOX_RULE}, got box 0 [-0.1, 0.0, 0.5, 0.5] (outside [0, 1])",
        ),
        (
            BoxesHandler(FRUIT),
            {"boxes": [[0, 0, float("nan"), 0.5]], "labels": [0]},
            f"{BOX_RULE}, got box 0 [0.0, 0.0, nan, 0.5] (not finite)",
        ),
        (
            BoxesHandler(FRUIT),
            {"boxes": [[0, 0, 0.5]], "labels": [0]},
            f"{BOX_RULE}, got boxes of shape [1, 3]",
        ),
        (
            BoxesHandler(FRUIT),
            {"boxes": [GOOD_BOX], "labels": [0, 1]},
            "expected one label per box (1), got 2 labels",
        ),
        (
            BoxesHandler(FRUIT),
            {"boxes": [GOOD_BOX, GOOD_BOX], "labels": [0, "kiwi"]},
            "got label of box 1: unknown class name 'kiwi'",
        ),
        (BoxesHandler(FRUIT), [GOOD_BOX], "got list"),
        (MultiLabelHandler(FRUIT), ["fig", "kiwi"], "got label 1: unknown class name 'kiwi'"),
        (MultiLabelHandler(FRUIT), [0, 3], "got label 1: 3 (out of range)"),
        (
            MultiLabelHandler(FRUIT),
            ["fig", 2],
            "expected each class at most once, got ['fig'] more than once",
        ),
        (MultiLabelHandler(FRUIT), "fig", "expected a set or sequence of class names"),
        (MultiLabelHandler(FRUIT), [True], "got label 0: True (bool)"),
        (SequenceHandler("int64"), [1, 2.5], "expected a sequence of ints, got values of dtype"),
        (SequenceHandler("int64"), [True], "got values of dtype bool"),
        (SequenceHandler("int64"), "123", "expected a sequence of ints, got str"),
        (SequenceHandler("int64"), {3, 1}, "expected a sequence of ints, got set"),
        (SequenceHandler("float32"), [1.0, float("inf")], "expected finite values"),
        (SequenceHandler("float32"), [1e39], "expected values that fit float32"),
        (SequenceHandler("float32", inner_shape=(2,)), [[1, 2], [3]], "nested lists of unequal"),
        (SequenceHandler("float32", inner_shape=(2,)), [[1, 2, 3]], "got shape [1, 3]"),
        (SequenceHandler("string"), ["a", b"b"], "expected a sequence of str, got bytes"),
    ],
)
def test_bad_values_get_one_error_naming_key_and_item(handler, value, message):
    with pytest.raises(HandlerError) as err:
        handler.transform(value, "x")
    assert str(err.value).startswith("key 'x': "), str(err.value)
    assert message in str(err.value), str(err.value)


@pytest.mark.parametrize(
    ("mask", "message"),
    [
        (
            np.zeros((4, 5), np.uint8),
            "expected a mask of its image's size 4x6 (HxW, 69 bytes), got 4x5",
        ),
        (np.zeros((4, 6), np.uint16), "expected a uint8 [H, W] mask or a grey PNG, got uint16"),
        (np.zeros((4, 6, 3), np.uint8), "got uint8 [4, 6, 3]"),
        (_png(np.zeros((4, 6, 3), np.uint8)), "expected a grey 8-bit PNG mask (mode L)"),
        (_png(np.zeros((5, 6), np.uint8)), "got 5x6"),
        (b"garbage", "got an unreadable file: 7 bytes"),
    ],
)
def test_bad_masks_name_what_was_expected(mask, message):
    image = _png(np.zeros((4, 6, 3), np.uint8))
    with pytest.raises(HandlerError) as err:
        MaskHandler("image", (8, 8)).transform((mask, image), "mask")
    assert str(err.value).startswith("key 'mask': ")
    assert message in str(err.value), str(err.value)


def test_a_mask_without_its_image_names_the_image_key():
    with pytest.raises(HandlerError, match="expected the row to hold its image under 'photo'"):
        MaskHandler("photo", (8, 8)).handle({"mask": np.zeros((2, 2), np.uint8)}, "mask")


@pytest.mark.parametrize(
    ("make", "entry"),
    [
        (lambda: SequenceHandler("int32"), "SequenceHandler.dtype"),
        (lambda: SequenceHandler("string", inner_shape=(2,)), "SequenceHandler.inner_shape"),
        (lambda: SequenceHandler("int64", inner_shape=(0,)), "SequenceHandler.inner_shape"),
        (lambda: MultiLabelHandler(FRUIT, decode_as="one_hot"), "MultiLabelHandler.decode_as"),
        (lambda: MultiLabelHandler(["a", "a"]), "ClassLabelHandler.names"),
        (lambda: BoxesHandler(), "ClassLabelHandler"),
        (lambda: MaskHandler("image", (8,)), "MaskHandler.size"),
        (lambda: MaskHandler("image", (8, 8), "stretch"), "MaskHandler.size_policy"),
    ],
)
def test_bad_settings_name_the_setting(make, entry):
    with pytest.raises(ConfigError, match=entry):
        make()


# What every handler shares (as tests/handlers/test_all_handlers.py checks for the others).
NEW_HANDLERS = {
    "image": lambda: EncodedImageHandler(size=(4, 4)),
    "ints": lambda: SequenceHandler("int64"),
    "floats": lambda: SequenceHandler("float32", inner_shape=(2,)),
    "tokens": lambda: SequenceHandler("string"),
    "tags": lambda: MultiLabelHandler(FRUIT),
    "objects": lambda: BoxesHandler(FRUIT),
    "mask": lambda: MaskHandler("image", (4, 4)),
}
OBJECTS = {
    "object array": np.array([object(), object()], dtype=object),
    "object": object(),
    "dict": {"a": 1},
    "pickled": __import__("pickle").dumps(np.zeros((4, 4), np.uint8)),
}


@pytest.mark.parametrize("key", sorted(NEW_HANDLERS))
def test_missing_key_names_the_key_and_the_row_keys(key):
    with pytest.raises(HandlerError) as err:
        NEW_HANDLERS[key]().handle({"other": 1, "another": 2}, key)
    assert str(err.value) == (
        f"key {key!r}: expected the row to have this key, got a row with keys ['another', 'other']"
    )


@pytest.mark.parametrize("key", sorted(NEW_HANDLERS))
@pytest.mark.parametrize("what", sorted(OBJECTS))
def test_object_and_pickled_values_are_refused(key, what):
    row = {"image": _png(np.zeros((4, 4), np.uint8)), key: OBJECTS[what]}
    with pytest.raises(HandlerError, match=f"key {key!r}: expected"):
        NEW_HANDLERS[key]().handle(row, key)


def test_handlers_pickle_and_encode_the_same_after():
    import pickle

    image = _png(np.zeros((4, 4, 3), np.uint8))
    row = {
        "image": image,
        "ints": [1, 2],
        "floats": [[0.5, 1.5]],
        "tokens": ["a"],
        "tags": ["fig"],
        "objects": {"boxes": [[0, 0, 1, 1]], "labels": ["fig"]},
        "mask": np.ones((4, 4), np.uint8),
    }
    for key, make in NEW_HANDLERS.items():
        handler = make()
        clone = pickle.loads(pickle.dumps(handler))
        assert clone.handle(row, key) == handler.handle(row, key)
        assert clone.feature_specs(key) == handler.feature_specs(key)


def test_earlier_specs_keep_their_json_so_fingerprints_do_not_change():
    old = {"encoding": "int64", "dtype": "int64", "shape": [], "names": ["a", "b"]}
    assert FeatureSpec.from_json(old).to_json() == old
    raw = {"encoding": "tensor_bytes", "dtype": "uint8", "shape": [28, 28, 1]}
    assert FeatureSpec.from_json(raw).to_json() == raw


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"encoding": "encoded_image", "dtype": "uint8", "shape": (4, 4)}, "shape (H, W, C)"),
        (
            {"encoding": "encoded_image", "dtype": "uint8", "shape": (4, 4, 3)},
            "size_policy must be one of",
        ),
        (
            {
                "encoding": "encoded_image",
                "dtype": "uint8",
                "shape": (4, 4, 3),
                "size_policy": "resize",
            },
            "interpolation must be one of",
        ),
        (
            {"encoding": "int64", "dtype": "int64", "size_policy": "resize"},
            "for encoded_image only",
        ),
        ({"encoding": "ragged_int64", "dtype": "int64", "shape": (3,)}, "shape (-1, *inner"),
        (
            {"encoding": "ragged_float32", "dtype": "float32", "decode_as": "multi_hot"},
            "decode_as must be one of",
        ),
    ],
)
def test_specs_that_cannot_be_decoded_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        FeatureSpec(**kwargs)


@given(
    st.lists(
        st.lists(st.floats(-(2.0**100), 2.0**100, width=32), min_size=2, max_size=2), max_size=6
    ),
    st.lists(st.integers(-(2**63), 2**63 - 1), max_size=6),
)
@settings(PROPERTY, max_examples=10)  # each example builds four tf.data pipelines
def test_sequences_round_trip_exactly(pairs, ints):
    floats = SequenceHandler("float32", inner_shape=(2,))
    expected = np.array(pairs, np.float32).reshape(-1, 2)
    assert_all_ways_equal(floats, [pairs], "x", {"x": [expected]})
    assert_all_ways_equal(SequenceHandler("int64"), [ints], "x", {"x": [np.array(ints, np.int64)]})
