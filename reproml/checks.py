"""Checks of config values shared by every layer: one message for one mistake.

`int_at_least` is the one "an int >= 1" check of reproml (a bool is not an int here, though
Python says it is): each caller names its own config entry, so the error names it.
"""

from __future__ import annotations

from reproml.errors import ConfigError


def int_at_least(entry: str, value: object, minimum: int = 1, *, expected: str = "") -> int:
    """Return `value` when it is an int >= `minimum` (not a bool).

    Args:
      entry: the config entry (or argument) holding `value`, named by the error.
      value: the value to check.
      minimum: the smallest value allowed.
      expected: what the error says was expected (default: ``an int >= MINIMUM``).

    Raises:
      ConfigError: `value` is a bool, not an int, or below `minimum`.
    """
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(entry, expected or f"an int >= {minimum}", value)
    return value


def optional_int_at_least(
    entry: str, value: object, minimum: int = 1, *, expected: str = ""
) -> int | None:
    """Return `value` when it is None or an int >= `minimum` (see `int_at_least`).

    Raises:
      ConfigError: `value` is neither (the message says ``None or an int >= MINIMUM``).
    """
    if value is None:
        return None
    return int_at_least(entry, value, minimum, expected=expected or f"None or an int >= {minimum}")
