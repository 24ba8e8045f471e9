"""`make test` starts the longest test files first (tests/file_order.py)."""

from __future__ import annotations

import dataclasses
import re

from tests.doc_blocks import ROOT
from tests.file_order import LONGEST_FILES, longest_files_first


@dataclasses.dataclass
class _Item:
    """What `longest_files_first` reads of a collected test: its node id and its marks."""

    nodeid: str
    slow: bool = False

    def get_closest_marker(self, name: str) -> object | None:
        return "slow" if name == "slow" and self.slow else None


def test_listed_files_first_in_their_order_then_slow_files_each_file_whole_and_in_order():
    listed_second, listed_first = LONGEST_FILES[1], LONGEST_FILES[0]
    items = [
        _Item("tests/a/test_quick.py::test_1"),
        _Item("tests/a/test_slowish.py::test_1"),
        _Item(f"{listed_second}::test_1"),
        _Item("tests/a/test_slowish.py::test_2", slow=True),
        _Item(f"{listed_first}::test_b"),
        _Item("tests/a/test_quick.py::test_2"),
        _Item(f"{listed_first}::test_a"),
        _Item(f"{listed_second}::test_2"),
    ]
    longest_files_first(items)
    assert [item.nodeid for item in items] == [
        f"{listed_first}::test_b",
        f"{listed_first}::test_a",
        f"{listed_second}::test_1",
        f"{listed_second}::test_2",
        "tests/a/test_slowish.py::test_1",  # one slow test: its whole file goes before the rest
        "tests/a/test_slowish.py::test_2",
        "tests/a/test_quick.py::test_1",
        "tests/a/test_quick.py::test_2",
    ]


def test_every_listed_file_exists_and_the_make_target_keeps_the_order():
    missing = [path for path in LONGEST_FILES if not (ROOT / path).is_file()]
    assert missing == [], f"tests/file_order.py names files that are gone: {missing}"
    assert len(set(LONGEST_FILES)) == len(LONGEST_FILES)
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    (command,) = re.findall(r"^test:.*\n\t(.*)$", makefile, flags=re.MULTILINE)
    assert "--dist loadfile" in command and "--no-loadscope-reorder" in command, command
