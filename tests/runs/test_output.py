"""Captured output: tqdm bars stored as their last state, on whole text and chunk by chunk."""

from __future__ import annotations

import io

import pytest
from tqdm import tqdm

from reproml.tracking.output import filter_captured_output

TF_LINE = (
    "2026-11-21 11:41:34.629145: I tensorflow/compiler/mlir/mlir_graph_optimization_pass.cc:388]"
    " MLIR V1 optimization pass is not enabled\n"
)


def _real_bar_output(ncols: int | None = 80) -> str:
    """What a real tqdm bar writes while a log line and a TF C++ line arrive mid-bar."""
    out = io.StringIO()
    out.write("start\n")
    bar = tqdm(total=50, desc="train steps", file=out, mininterval=0, miniters=1, ncols=ncols)
    for step in range(50):
        bar.update(1)
        if step == 20:
            out.write("INFO - reproml - evaluation at step 21: accuracy 0.5\n")
        if step == 30:
            out.write(TF_LINE)
    bar.close()
    out.write("test accuracy: 0.9\n")
    return out.getvalue()


@pytest.mark.parametrize("ncols", [80, None])
def test_a_bar_interrupted_by_log_lines_is_stored_once_in_its_last_state(ncols):
    lines = filter_captured_output(_real_bar_output(ncols)).splitlines()
    assert lines[0] == "start"
    assert lines[1] == "INFO - reproml - evaluation at step 21: accuracy 0.5"
    assert lines[2].startswith("train steps: 100%|") and "| 50/50 [" in lines[2]
    assert lines[3] == "test accuracy: 0.9"
    assert len(lines) == 4


@pytest.mark.parametrize("chunk", [1, 7, 97, 300, 10_000])
def test_chunk_by_chunk_filtering_gives_the_same_text(chunk):
    """Sacred filters the whole output at every heartbeat; a chunk may end mid-write."""
    raw = _real_bar_output()
    stored = ""
    for start in range(0, len(raw), chunk):
        stored = filter_captured_output(stored + raw[start : start + chunk])
        assert "\b" not in stored
    assert stored == filter_captured_output(raw)
    assert filter_captured_output(stored) == stored


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # An unfinished bar that was never drawn again (the run died) is kept: its last state.
        ("a\n\rload:  10%|#  | 1/10 [00:01<00:09]\n", "a\nload:  10%|#  | 1/10 [00:01<00:09]\n"),
        # Two bars of the same name that both finished are both kept.
        (
            "x: 100%|##| 2/2 [00:00<00:00]\nx: 100%|##| 3/3 [00:00<00:00]\n",
            "x: 100%|##| 2/2 [00:00<00:00]\nx: 100%|##| 3/3 [00:00<00:00]\n",
        ),
        # The source line Python prints under a warning goes, the warning stays.
        (
            "/r/m.py:95: MnistFallbackWarning: MNIST is not available\n  arrays = load()\nok\n",
            "/r/m.py:95: MnistFallbackWarning: MNIST is not available\nok\n",
        ),
        # ... and with a dropped UserWarning.
        ("/r/m.py:3: UserWarning: noise\n  x = f()\nok\n", "ok\n"),
        # A line still being written keeps its newest write behind a carriage return.
        ("p: 50%|#  | 5/10 [00:05<00:05]\rp: 6", "p: 50%|#  | 5/10 [00:05<00:05]\rp: 6"),
        ("abc\rlonger", "longer"),
    ],
)
def test_output_filter_table(text, expected):
    assert filter_captured_output(text) == expected
    assert filter_captured_output(expected) == expected
