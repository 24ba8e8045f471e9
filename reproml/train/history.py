"""The training history of a run as one CSV table: a row per step, a column per metric.

`MetricHistory` stands in for the Sacred run where hooks call ``log_scalar``: it forwards every
value to the run and keeps a copy, which `write_csv` writes as the ``history.csv`` artifact::

    step,eval.accuracy,eval.loss,train.loss,train.steps_per_sec
    1,,,2.3038,
    15,0.7305,1.1265,1.2713,41.7
"""

from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import Any

HISTORY_ARTIFACT = "history.csv"


class MetricHistory:
    """Forward ``log_scalar`` to a Sacred run and remember every value by step and name.

    Args:
      run: the Sacred run (anything with ``log_scalar(name, value, step)``).
    """

    def __init__(self, run: Any) -> None:
        self.run = run
        self.rows: dict[int, dict[str, float]] = {}

    def log_scalar(self, name: str, value: float, step: int | None = None) -> None:
        """Log `value` to the run and keep it (values logged without a step are only forwarded)."""
        self.run.log_scalar(name, value, step)
        if step is not None:
            self.rows.setdefault(int(step), {})[name] = float(value)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.run, name)

    def write_csv(self, path: str | os.PathLike) -> Path:
        """Write the history (rows sorted by step, columns by name, empty cells for gaps)."""
        names = sorted({name for row in self.rows.values() for name in row})
        path = Path(path)
        with open(path, "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(["step", *names])
            for step in sorted(self.rows):
                row = self.rows[step]
                writer.writerow([step, *(repr(row[n]) if n in row else "" for n in names)])
        return path
