import pickle

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from handlers import ClassLabelHandler
from reproml.errors import ConfigError, HandlerError
from reproml.records.spec import FeatureSpec
from tests.handlers.roundtrip import PROPERTY, assert_roundtrip

PETS = dict(names=["cat", "dog"])
THREE = dict(num_classes=3)

# (handler kwargs, value, expected index)
VALID = [
    (PETS, "cat", 0),
    (PETS, "dog", 1),
    (PETS, 1, 1),
    (PETS, np.int64(0), 0),
    (PETS, np.uint8(1), 1),
    (PETS, np.array(1), 1),
    (PETS, np.str_("dog"), 1),
    (PETS, np.array("dog"), 1),
    (THREE, 2, 2),
    (THREE, "2", 2),
    (dict(names=["a", "b", "c"], num_classes=3), "c", 2),
]


@pytest.mark.parametrize("kwargs,value,expected", VALID)
def test_valid_values(kwargs, value, expected):
    handler = ClassLabelHandler(**kwargs)
    out = handler.transform(value, "label")
    assert out == expected and type(out) is int
    assert_roundtrip(handler, [value, value], key="label")


# (handler kwargs, value, message substring)
INVALID = [
    (PETS, "cow", "unknown class name 'cow'"),
    (PETS, "Cat", "unknown class name 'Cat'"),
    (PETS, 2, "2 (out of range)"),
    (PETS, -1, "-1 (out of range)"),
    (PETS, np.int64(5), "5 (out of range)"),
    (PETS, True, "True (bool)"),
    (PETS, np.bool_(False), "(bool"),
    (PETS, 1.0, "1.0 (float)"),
    (PETS, np.float32(0), "(float32)"),
    (PETS, None, "None (NoneType)"),
    (PETS, [0], "[0] (list)"),
    (PETS, np.array([0]), "(ndarray)"),
    (PETS, b"cat", "(bytes)"),
    (PETS, pickle.dumps(0), "(bytes)"),
    (PETS, np.array(0, dtype=object), "(ndarray)"),
    (THREE, 3, "3 (out of range)"),
    (THREE, "3", "unknown class name '3'"),
]


@pytest.mark.parametrize("kwargs,value,message", INVALID)
def test_invalid_values(kwargs, value, message):
    handler = ClassLabelHandler(**kwargs)
    with pytest.raises(HandlerError, match="key 'label'") as err:
        handler.handle({"label": value}, "label")
    assert message in str(err.value)
    n = handler.num_classes
    names = "['cat', 'dog']" if kwargs is PETS else "['0', '1', '2']"
    assert f"expected one of {names} or an int in [0, {n})" in str(err.value)


def test_long_vocabulary_is_shortened_in_messages():
    handler = ClassLabelHandler(num_classes=1000)
    with pytest.raises(HandlerError) as err:
        handler.transform("1000", "label")
    assert "['0', '1'," in str(err.value) and "'11', ...] or an int in [0, 1000)" in str(err.value)
    assert "'12'" not in str(err.value)


def test_spec_carries_the_names():
    assert ClassLabelHandler(**PETS).spec() == FeatureSpec(
        "int64", "int64", (), names=("cat", "dog")
    )
    spec = ClassLabelHandler(**THREE).spec()
    assert spec.names == ("0", "1", "2") and spec.num_classes == 3
    assert FeatureSpec.from_json(spec.to_json()) == spec


@pytest.mark.parametrize(
    "kwargs,entry",
    [
        (dict(), "ClassLabelHandler"),
        (dict(names="cat"), "names"),
        (dict(names=[]), "names"),
        (dict(names=["a", "a"]), "names"),
        (dict(names=["a", ""]), "names"),
        (dict(names=["a", 1]), "names"),
        (dict(num_classes=0), "num_classes"),
        (dict(num_classes=2.0), "num_classes"),
        (dict(num_classes=True), "num_classes"),
        (dict(names=["a", "b"], num_classes=3), "num_classes"),
    ],
)
def test_bad_configuration(kwargs, entry):
    with pytest.raises(ConfigError, match=entry):
        ClassLabelHandler(**kwargs)


names_lists = st.lists(st.text(min_size=1, max_size=8), min_size=1, max_size=20, unique=True)


@PROPERTY
@given(names_lists, st.data())
def test_property_names_and_indices_round_trip(names, data):
    handler = ClassLabelHandler(names=names)
    index = data.draw(st.integers(0, len(names) - 1))
    assert handler.transform(names[index], "label") == index
    assert handler.transform(index, "label") == index
    assert_roundtrip(handler, [names[index], index], key="label")


@PROPERTY
@given(names_lists, st.one_of(st.integers(), st.text(), st.floats(), st.booleans(), st.none()))
def test_property_anything_outside_the_vocabulary_is_refused(names, value):
    handler = ClassLabelHandler(names=names)
    valid = (
        isinstance(value, int) and not isinstance(value, bool) and 0 <= value < len(names)
    ) or (isinstance(value, str) and value in names)
    assume(not valid)
    with pytest.raises(HandlerError, match=r"or an int in \[0, "):
        handler.transform(value, "label")
