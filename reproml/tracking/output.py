"""Keeps a run's captured stdout/stderr small and readable.

Sacred re-applies ``captured_out_filter`` to the whole output at every heartbeat, so
`filter_captured_output` is idempotent. It

1. interprets carriage returns and backspaces like a terminal (a tqdm bar becomes its last
   state instead of thousands of redraws),
2. keeps each tqdm bar as its last state at most: text written while a bar was being drawn
   (a log line, TensorFlow's C++ logs under ``--capture=fd``) no longer sticks to an
   out-of-date bar on one garbled line: it gets a line of its own and the stale bar state is
   dropped, as is every unfinished state of a bar that was drawn again further down,
3. drops TensorFlow's warning/deprecation lines (``WARNING:tensorflow:...``,
   ``Instructions for updating:`` blocks, C++ ``W0000 ...`` log lines) and the source line
   Python's `warnings` prints under a warning,
4. masks credentials (see `reproml.runs.scrub`),
5. keeps the first and last part when the output still exceeds `MAX_CHARS`, far below
   MongoDB's 16 MB document limit.

The terminal still shows the bars live: only the stored copy is cleaned.
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
# A Python warning as `warnings.showwarning` prints it: "file.py:12: SomeWarning: message".
_PY_WARNING = re.compile(r"^\S.*\.py:\d+: \w*Warning: ")
# One tqdm bar in its default format: "desc: 37%|###   | 110/300 [00:12<00:21, 8.85s/step]"
# (desc optional, postfix inside the brackets); `n` and `total` tell whether it finished.
_BAR = re.compile(
    r"(?:(?P<desc>[^\n]*?): *)?(?P<pct>\d{1,3})%\|[^|\n]*\| *"
    r"(?P<n>[\d.]+[kMGT]?)/(?P<total>[\d.]+[kMGT]?) \[[^\]\n]*\]"
)


def _bar(line: str) -> re.Match | None:
    """Return the match of a tqdm bar that starts `line`, or None."""
    return _BAR.match(line)


def _split_bars(lines: list[str]) -> list[str]:
    """Give text glued after a bar state a line of its own (the bar state stays in front)."""
    split = []
    for line in lines:
        match = _bar(line)
        while match is not None and line[match.end() :].strip(" "):
            split.append(line[: match.end()])
            line = line[match.end() :].lstrip(" ")  # tqdm pads a redraw with spaces
            match = _bar(line)
        split.append(line.rstrip(" ") if match is not None else line)
    return split


def _drop_stale_bars(lines: list[str], later: list[str]) -> list[str]:
    """Drop every unfinished bar state whose bar (same description) is drawn again later.

    Args:
      lines: the complete lines.
      later: lines after them that may still change (the incomplete last line).
    """
    kept = []
    every = [*lines, *later]
    last_of: dict[str, int] = {}
    for i, line in enumerate(every):
        match = _bar(line)
        if match is not None:
            last_of[match["desc"] or ""] = i
    for i, line in enumerate(lines):
        match = _bar(line)
        finished = match is not None and match["n"] == match["total"]
        if match is not None and not finished and last_of[match["desc"] or ""] > i:
            continue
        kept.append(line)
    return kept


def _drop_noise(lines: list[str]) -> list[str]:
    """Drop TF warning lines; an "Instructions for updating:" block drops with its next line."""
    kept, skip = [], 0
    for i, line in enumerate(lines):
        if skip:
            skip -= 1
            continue
        following = lines[i + 1] if i + 1 < len(lines) else ""
        if _NOISE.match(line):
            if following.startswith(_INSTRUCTIONS):
                skip = 2
            elif _PY_WARNING.match(line) and following.startswith("  "):
                skip = 1
            continue
        kept.append(line)
        if _PY_WARNING.match(line) and following.startswith("  "):
            skip = 1  # the source line Python prints under a warning it shows
    return kept


def _open_line(line: str) -> str:
    r"""Collapse the redraws of the line still being written, without losing its cursor.

    The output arrives in chunks that may end in the middle of a write (``"\rtrain st"``).
    Drawing such a line now and appending the rest of the write later would put the rest after
    the old state's tail: a garbled bar. So only what precedes the last carriage return is
    drawn, and the text after it (the newest write, maybe partial) is kept behind a ``"\r"``,
    unless it already covers all of the old state (a tqdm redraw is padded to do so).
    """
    head, cr, newest = line.rpartition("\r")
    if not cr:
        return line
    drawn = apply_backspaces_and_linefeeds(head + "\n")[:-1]
    if len(newest) >= len(drawn) and "\b" not in newest:
        return newest
    return drawn + "\r" + newest


def filter_captured_output(text: str, max_chars: int = MAX_CHARS) -> str:
    """Return `text` as a terminal shows it, without TF warnings or credentials, capped in size.

    Args:
      text: the whole captured output so far.
      max_chars: the size above which only the first and last parts are kept.
    """
    *raw_complete, raw_last = text.split("\n")
    # Complete lines are drawn as a terminal shows them; the sentinel "\n" keeps Sacred's
    # function from treating the last complete line as still open.
    complete = apply_backspaces_and_linefeeds("\n".join([*raw_complete, ""])).split("\n")[:-1]
    # The last line may be incomplete (more of it arrives later): never drop it yet.
    last = _open_line(raw_last)
    complete = _drop_stale_bars(_drop_noise(_split_bars(complete)), [last])
    text = "\n".join([*complete, last])
    text = scrub_text(text)
    if len(text) > max_chars:
        head = min(HEAD_CHARS, max_chars // 4)
        tail = max_chars - head - len(TRUNCATION_MARK)
        text = text[:head] + TRUNCATION_MARK + text[-tail:]
    return text
