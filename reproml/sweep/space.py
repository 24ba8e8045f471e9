"""The search space of a sweep, from command-line words.

lr=loguniform(1e-4,1e-2)   a float, log-uniform in [1e-4, 1e-2]
lr=uniform(0.1,0.5)        a float, uniform
batch_size=int(16,64)      an int, uniform (int(16,64,log) for log-uniform)
dropout=0.2,0.4            one of these values (categorical; grid searches need these)
steps=30                   fixed: passed to every trial, not searched
quick                      a named config of the experiment, for every trial
"""

from __future__ import annotations

import ast
import dataclasses
import re
from collections.abc import Sequence
from typing import Any

from reproml.errors import CliError

_CALL = re.compile(r"^(loguniform|uniform|int)\((.*)\)$")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*$")


def parse_value(text: str) -> Any:
    """Return a Python literal (number, bool, None, quoted str), else `text` itself as a str."""
    try:
        return ast.literal_eval(text.strip())
    except (ValueError, SyntaxError):
        return text.strip()


@dataclasses.dataclass(frozen=True)
class Param:
    """One searched config entry.

    Attributes:
      name: the config entry (dotted for ingredients, e.g. ``dataset.max_examples``).
      kind: ``loguniform``, ``uniform``, ``int`` or ``choice``.
      low, high: the range (not for ``choice``).
      choices: the values of a ``choice``.
      log: log scale (``int``).
      spec: the text it was parsed from (kept in the study).
    """

    name: str
    kind: str
    spec: str
    low: float | None = None
    high: float | None = None
    choices: tuple[Any, ...] = ()
    log: bool = False

    def suggest(self, trial: Any) -> Any:
        """Return this param's value for an Optuna `trial`."""
        if self.kind == "choice":
            return trial.suggest_categorical(self.name, list(self.choices))
        if self.kind == "int":
            return trial.suggest_int(self.name, int(self.low), int(self.high), log=self.log)
        return trial.suggest_float(self.name, self.low, self.high, log=self.kind == "loguniform")


@dataclasses.dataclass(frozen=True)
class SearchSpace:
    """What a sweep's command-line words say: searched params, fixed entries, named configs."""

    params: tuple[Param, ...]
    fixed: tuple[tuple[str, Any], ...]
    named: tuple[str, ...]

    def words(self) -> list[str]:
        """Return the words that parse back into this space (kept in the study)."""
        return [
            *self.named,
            *(f"{name}={value!r}" for name, value in self.fixed),
            *(p.spec for p in self.params),
        ]

    def grid(self) -> dict[str, list[Any]]:
        """Return the grid of a grid search.

        Raises:
          CliError: a searched param is a range, not a list of values.
        """
        for p in self.params:
            if p.kind != "choice":
                raise CliError(
                    f"sweep param {p.name!r}: --sampler grid needs a list of values "
                    f"(e.g. {p.name}=0.1,0.2), got {p.spec.split('=', 1)[1]!r}"
                )
        return {p.name: list(p.choices) for p in self.params}


def _numbers(name: str, kind: str, args: str, spec: str) -> Param:
    parts = [a.strip() for a in args.split(",")]
    log = kind == "int" and len(parts) == 3 and parts[2] == "log"
    if log:
        parts = parts[:2]
    try:
        low, high = (float(parts[0]), float(parts[1])) if len(parts) == 2 else (None, None)
    except ValueError:
        low = high = None
    if low is None or high is None or not low < high:
        raise CliError(f"sweep param {spec!r}: expected {kind}(LOW,HIGH) with LOW < HIGH")
    if kind == "loguniform" and low <= 0:
        raise CliError(f"sweep param {spec!r}: loguniform needs LOW > 0")
    if kind == "int" and (low != int(low) or high != int(high)):
        raise CliError(f"sweep param {spec!r}: int(LOW,HIGH) needs whole numbers")
    return Param(name, kind, spec, low=low, high=high, log=log)


def parse_space(words: Sequence[str]) -> SearchSpace:
    """Parse a sweep's words (see the module docstring).

    Raises:
      CliError: a word names no valid config entry, a range is malformed, an entry is given
        twice, or nothing is searched.
    """
    params: list[Param] = []
    fixed: list[tuple[str, Any]] = []
    named: list[str] = []
    seen: set[str] = set()
    for word in words:
        if "=" not in word:
            if not _NAME.match(word):
                raise CliError(f"sweep word {word!r}: expected NAME=VALUES or a named config")
            named.append(word)
            continue
        name, value = (s.strip() for s in word.split("=", 1))
        if not _NAME.match(name):
            raise CliError(f"sweep param {word!r}: {name!r} is not a config entry name")
        if name in seen:
            raise CliError(f"sweep param {name!r} is given twice")
        seen.add(name)
        call = _CALL.match(value)
        if call:
            params.append(_numbers(name, call.group(1), call.group(2), word))
        elif "," in value:
            choices = tuple(parse_value(v) for v in value.split(","))
            if len(set(map(repr, choices))) != len(choices):
                raise CliError(f"sweep param {word!r}: a value is listed twice")
            params.append(Param(name, "choice", word, choices=choices))
        elif not value:
            raise CliError(f"sweep param {word!r}: no value")
        else:
            fixed.append((name, parse_value(value)))
    if not params:
        raise CliError(
            "sweep: nothing to search; give at least one NAME=loguniform(a,b), uniform(a,b), "
            "int(a,b) or NAME=v1,v2"
        )
    return SearchSpace(tuple(params), tuple(fixed), tuple(named))
