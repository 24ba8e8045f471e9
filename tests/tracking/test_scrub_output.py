import json

import pytest

from reproml.runs.mongo import target_from_url
from reproml.runs.scrub import scrub, scrub_text
from reproml.tracking.output import TRUNCATION_MARK, filter_captured_output


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("mongodb://me:pa55@db:27017/x", "mongodb://me:***@db:27017/x"),
        ("see https://tok:abc123@github.com/o/r.git", "see https://tok:***@github.com/o/r.git"),
        ("mongodb://db:27017/x", "mongodb://db:27017/x"),
        ("no url here", "no url here"),
    ],
)
def test_scrub_text_masks_url_passwords(text, expected):
    assert scrub_text(text) == expected


def test_registered_secret_is_masked_everywhere_in_nested_values():
    target_from_url("mongodb://alice:Zq9%21secret@db.example:27017/team")
    value = {"a": ["x Zq9!secret y", ("Zq9%21secret",)], "Zq9!secret": 3, "n": 1.5}
    out = scrub(value)
    assert "secret" not in json.dumps(out)
    assert out["n"] == 1.5


def test_output_filter_keeps_last_progress_state_and_drops_tf_warnings():
    text = (
        "start\n"
        + "".join(f"\rtrain: {i}%" for i in range(0, 101, 10))
        + "\nWARNING:tensorflow:From x.py:3: foo (from tf) is deprecated and will be removed.\n"
        "Instructions for updating:\nUse bar.\n"
        "W0000 00:00:1700000000.123456   123 op_kernel.cc:1] something\n"
        "result 0.9\n"
    )
    assert filter_captured_output(text) == "start\ntrain: 100%\nresult 0.9\n"


def test_output_filter_keeps_incomplete_last_line_and_is_idempotent():
    once = filter_captured_output("a\nWARNING:tensorflow:par")
    assert once.endswith("WARNING:tensorflow:par")
    assert filter_captured_output(once + "tial\nb\n") == "a\nb\n"


def test_output_filter_caps_size_keeping_head_and_tail():
    text = "".join(f"line {i}\n" for i in range(200_000))
    out = filter_captured_output(text, max_chars=50_000)
    assert len(out) <= 50_000
    assert out.startswith("line 0\n") and out.endswith("line 199999\n")
    assert TRUNCATION_MARK in out
    again = filter_captured_output(out + "more\n", max_chars=50_000)
    assert len(again) <= 50_000 and again.endswith("more\n") and again.startswith("line 0\n")
