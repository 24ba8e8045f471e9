"""Aligned plain-text tables for the terminal, CSV files, and the value formats both use."""

from __future__ import annotations

import csv
import datetime as dt
import numbers
from collections.abc import Sequence
from pathlib import Path
from typing import Any

MISSING = "-"


def format_value(value: Any) -> str:
    """Format one cell: 4 significant digits for floats, ``-`` for missing values."""
    if value is None:
        return MISSING
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, dt.datetime):
        return format_time(value)
    if isinstance(value, dt.timedelta):
        return format_duration(value)
    return str(value)


def format_time(value: dt.datetime | None) -> str:
    """Format a start/stop time to the second (``2026-11-21 05:05:09``)."""
    return MISSING if value is None else value.strftime("%Y-%m-%d %H:%M:%S")


def format_duration(value: dt.timedelta | None) -> str:
    """Format a duration as ``1h02m03s``, ``2m03s`` or ``3.2s``."""
    if value is None:
        return MISSING
    seconds = value.total_seconds()
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s"


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Number) and not isinstance(value, bool)


def render_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """Return an aligned table: numbers right-aligned, text left-aligned.

    A rule separates the header; cells are formatted with `format_value`.
    """
    cells = [[format_value(v) for v in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in cells:
        widths = [max(w, len(c)) for w, c in zip(widths, row, strict=True)]
    numeric = [
        any(_is_number(row[i]) for row in rows)
        and all(_is_number(row[i]) or row[i] is None for row in rows)
        for i in range(len(headers))
    ]

    def line(values: Sequence[str]) -> str:
        parts = [
            v.rjust(w) if num else v.ljust(w)
            for v, w, num in zip(values, widths, numeric, strict=True)
        ]
        return "  ".join(parts).rstrip()

    out = [line(list(headers)), "  ".join("-" * w for w in widths)]
    out.extend(line(row) for row in cells)
    return "\n".join(out)


def render_pairs(pairs: Sequence[tuple[str, Any]], indent: str = "  ") -> str:
    """Return ``key  value`` lines with the keys padded to one width."""
    if not pairs:
        return f"{indent}{MISSING}"
    width = max(len(k) for k, _ in pairs)
    return "\n".join(f"{indent}{k.ljust(width)}  {format_value(v)}".rstrip() for k, v in pairs)


def write_csv(path: str | Path, headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Write the table to `path` as CSV with full-precision values (empty for missing)."""

    def raw(value: Any) -> Any:
        if value is None:
            return ""
        if isinstance(value, dt.datetime):
            return value.isoformat()
        if isinstance(value, dt.timedelta):
            return f"{value.total_seconds():.3f}"
        return value

    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(headers)
        writer.writerows([raw(v) for v in row] for row in rows)
