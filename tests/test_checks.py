"""`reproml.checks`: the one "an int >= N" check, named by its entry."""

from __future__ import annotations

import pytest

from reproml.checks import int_at_least, optional_int_at_least
from reproml.errors import ConfigError


@pytest.mark.parametrize(("value", "minimum"), [(1, 1), (7, 1), (0, 0), (2**40, 1)])
def test_an_int_at_least_the_minimum_is_returned(value, minimum):
    assert int_at_least("steps", value, minimum) == value


@pytest.mark.parametrize(
    ("value", "minimum", "message"),
    [
        (0, 1, "config entry 'steps': expected an int >= 1, got 0"),
        (-1, 0, "config entry 'steps': expected an int >= 0, got -1"),
        (True, 1, "config entry 'steps': expected an int >= 1, got True"),
        (2.0, 1, "config entry 'steps': expected an int >= 1, got 2.0"),
        ("3", 1, "config entry 'steps': expected an int >= 1, got '3'"),
        (None, 1, "config entry 'steps': expected an int >= 1, got None"),
    ],
)
def test_anything_else_is_one_line_naming_the_entry(value, minimum, message):
    with pytest.raises(ConfigError) as info:
        int_at_least("steps", value, minimum)
    assert str(info.value) == message


def test_the_caller_may_say_what_it_expects_and_none_may_be_allowed():
    with pytest.raises(ConfigError, match="expected an int >= 1 \\(the chief is one\\), got 0"):
        int_at_least("workers", 0, expected="an int >= 1 (the chief is one)")
    assert optional_int_at_least("window_size", None) is None
    assert optional_int_at_least("window_size", 3) == 3
    with pytest.raises(ConfigError, match="'window_size': expected None or an int >= 1, got 0"):
        optional_int_at_least("window_size", 0)
