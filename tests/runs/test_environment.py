"""reproml.runs.environment: what changed between a run's recorded environment and another."""

from __future__ import annotations

import platform

import pytest

from reproml.runs.environment import environment_differences, parse_freeze, pip_freeze

FREEZE = """\
absl-py==1.4.0
numpy==1.26.4
Pillow==10.3.0
-e git+https://example.org/reproml.git@abc123#egg=reproml
sacred==0.8.7
tensorflow==2.15.1
typing_extensions==4.12.2
"""


def _edit(text: str, old: str, new: str) -> str:
    assert old in text
    return text.replace(old, new)


def test_parse_freeze_canonicalizes_names_and_keeps_each_form():
    parsed = parse_freeze(FREEZE + "# a comment\n\nlocal-pkg @ file:///tmp/local_pkg\n")
    assert parsed["pillow"] == "10.3.0" and parsed["typing-extensions"] == "4.12.2"
    assert parsed["reproml"] == "-e git+https://example.org/reproml.git@abc123"
    assert parsed["local-pkg"] == "@ file:///tmp/local_pkg"
    assert len(parsed) == 8


@pytest.mark.parametrize(
    ("freeze_now", "python_now", "expected"),
    [
        (FREEZE, "3.11.4", []),
        (FREEZE, "3.11.9", ["Python 3.11.4 -> 3.11.9"]),
        (
            _edit(FREEZE, "tensorflow==2.15.1", "tensorflow==2.16.1"),
            "3.11.4",
            ["TensorFlow 2.15.1 -> 2.16.1"],
        ),
        (
            _edit(FREEZE, "tensorflow==2.15.1", "tensorflow-cpu==2.15.1"),
            "3.11.4",
            ["TensorFlow 2.15.1 -> tensorflow-cpu 2.15.1"],
        ),
        (
            _edit(FREEZE, "numpy==1.26.4", "numpy==1.26.3"),
            "3.11.4",
            ["1 package changed: numpy 1.26.4 -> 1.26.3"],
        ),
        (
            _edit(FREEZE, "absl-py==1.4.0\n", "") + "rich==13.7.1\n",
            "3.11.4",
            ["2 packages changed: absl-py removed (was 1.4.0), rich added (13.7.1)"],
        ),
        (
            _edit(FREEZE, "Pillow==10.3.0", "pillow==10.3.0"),  # the same package
            "3.11.4",
            [],
        ),
        (
            FREEZE + "".join(f"extra{i}==1.0\n" for i in range(10)),
            "3.11.4",
            [
                "10 packages changed: extra0 added (1.0), extra1 added (1.0), extra2 added (1.0), "
                "extra3 added (1.0), extra4 added (1.0), extra5 added (1.0), extra6 added (1.0), "
                "extra7 added (1.0) and 2 more"
            ],
        ),
    ],
)
def test_environment_differences_name_python_tensorflow_and_packages(
    freeze_now, python_now, expected
):
    assert environment_differences(FREEZE, "3.11.4", freeze_now, python_now) == expected


def test_a_run_without_a_recorded_freeze_compares_python_only():
    assert environment_differences(None, "3.11.4", FREEZE, "3.11.4") == []
    assert environment_differences(None, None, FREEZE, "3.11.4") == [
        "Python not recorded -> 3.11.4"
    ]


def test_this_interpreter_is_the_same_as_itself():
    frozen = pip_freeze()
    assert "sacred==0.8.7" in frozen
    version = platform.python_version()
    assert environment_differences(frozen, version, frozen, version) == []
