"""Keeps a run's captured stdout/stderr small and readable.

Sacred re-applies ``captured_out_filter`` to the whole output at every heartbeat, so
`filter_captured_output` is idempotent. It

1. interprets carriage returns and backspaces like a terminal (a tqdm bar becomes its last
   state instead of thousands of redraws),
2. drops TensorFlow's warning/deprecation lines (``WARNING:tensorflow:...``,
   ``Instructions for updating:`` blocks, C++ ``W0000 ...`` log lines),
3. masks credentials (see `reproml.runs.scrub`),
4. keeps the first and last part when the output still exceeds `MAX_CHARS`, far below
   MongoDB's 16 MB document limit.
"""

from __future__ import annotations

import re

from sacred.utils import apply_backspaces_and_linefeeds

from reproml.runs.scrub import scrub_text

MAX_CHARS = 1_000_000
HEAD_CHARS = 200_000
TRUNCATION_MARK = "\n[... reproml: output truncated, kept the first and the last part ...]\n"

_NOISE = re.compile(
    r"^(?:WARNING:tensorflow:|WARNING:absl:|INFO:tensorflow:|"
    r"[WI]\d{4} [\d:.]+ +\d+ \S+:\d+\]|"
    r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+: [WI] \S+:\d+\]|"
    r".*(?:DeprecationWarning|FutureWarning|UserWarning): )"
)
_INSTRUCTIONS = "Instructions for updating:"


def _drop_noise(lines: list[str]) -> list[str]:
    """Drop TF warning lines; an "Instructions for updating:" block drops with its next line."""
    kept, skip = [], 0
    for i, line in enumerate(lines):
        if skip:
            skip -= 1
            continue
        if _NOISE.match(line):
            if i + 1 < len(lines) and lines[i + 1].startswith(_INSTRUCTIONS):
                skip = 2
            continue
        kept.append(line)
    return kept


def filter_captured_output(text: str, max_chars: int = MAX_CHARS) -> str:
    """Return `text` as a terminal shows it, without TF warnings or credentials, capped in size.

    Args:
      text: the whole captured output so far.
      max_chars: the size above which only the first and last parts are kept.
    """
    text = apply_backspaces_and_linefeeds(text)
    lines = text.split("\n")
    # The last line may be incomplete (more of it arrives later): never drop it yet.
    complete, last = lines[:-1], lines[-1]
    text = "\n".join([*_drop_noise(complete), last])
    text = scrub_text(text)
    if len(text) > max_chars:
        head = min(HEAD_CHARS, max_chars // 4)
        tail = max_chars - head - len(TRUNCATION_MARK)
        text = text[:head] + TRUNCATION_MARK + text[-tail:]
    return text
