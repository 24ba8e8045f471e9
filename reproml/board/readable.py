"""The board's view of a file-store run: readable columns and a metrics plot on one scale.

`reproml board` copies file-store runs into its private database (`reproml.board.database`);
that copy is a view for reading, the file store stays the record. Two things of a record make
Omniboard hard to read, so the copy differs from the record in exactly these:

* **config**: Omniboard makes a column of every top-level config entry and prints dicts there
  as raw JSON (``C Dataset`` ``{"__doc__": ..., "name": ...}``). The copy holds the config
  flattened as `reproml.runs.record.flatten_config` does for ``show`` and `load_runs`: nested
  dicts become dotted entries (``dataset.name``), Sacred's ``__doc__`` docstrings are left out.
* **timing metrics** (`reproml.runs.record.TIMING_METRICS`, ``train.steps_per_sec``): Omniboard
  plots every metric of a run on one linear axis by default, so a throughput of ~20 flattens
  accuracy and loss near 0. The copy leaves them out of its metrics and keeps their summary in
  ``info.timing`` (``{"train.steps_per_sec": {"last", "mean", "count"}}``, the run page's Info
  tab); the whole series stays in the record (``reproml show``) and in TensorBoard.

Runs on a ``--mongo`` database are shown as recorded: the board never edits a user's database.
"""

from __future__ import annotations

from typing import Any

from reproml.runs.record import TIMING_METRICS, RunRecord, flatten_config


def timing_summary(run: RunRecord) -> dict[str, dict[str, float | int]]:
    """Return ``{name: {"last", "mean", "count"}}`` of the run's timing metrics that have values."""
    summary: dict[str, dict[str, float | int]] = {}
    for name in TIMING_METRICS:
        values = [float(v) for v in (run.metrics.get(name) or {}).get("values", [])]
        if values:
            summary[name] = {
                "last": values[-1],
                "mean": sum(values) / len(values),
                "count": len(values),
            }
    return summary


def make_readable(db: Any, run_id: Any, run: RunRecord) -> None:
    """Make the board's copy `run_id` of `run` the readable view (see the module docstring).

    Idempotent: it rewrites the copy from the record each time.
    """
    doc = db.runs.find_one({"_id": run_id}, {"info": 1}) or {}
    info = dict(doc.get("info") or {})
    info["metrics"] = [m for m in info.get("metrics") or [] if m.get("name") not in TIMING_METRICS]
    timing = timing_summary(run)
    if timing:
        info["timing"] = timing
    db.runs.update_one(
        {"_id": run_id}, {"$set": {"config": flatten_config(run.config), "info": info}}
    )
    db.metrics.delete_many({"run_id": run_id, "name": {"$in": list(TIMING_METRICS)}})
