"""Runs as pandas DataFrames, for a notebook: `load_runs` (one row a run), `load_metrics` (long).

Both read through the same `RunStore` the CLI uses, so a DataFrame shows exactly what
``reproml leaderboard`` and ``reproml show`` show, on the file store and on MongoDB::

    import reproml
    runs = reproml.load_runs("runs")                        # or "mongodb://host:27017/reproml"
    runs.sort_values("metrics.eval.accuracy", ascending=False)
    history = reproml.load_metrics("runs", metric="eval.accuracy")
    history.pivot(index="step", columns="run", values="value").plot()

``import reproml`` does not import this module (nor pandas); the first use of a name does.
"""

from __future__ import annotations

import os
import warnings
from typing import Any

import pandas as pd

from reproml.runs.annotations import notes_of, tags_of
from reproml.runs.file_store import FileStore
from reproml.runs.mongo_store import open_mongo_store
from reproml.runs.record import RunRecord, flatten_config, parse_time, run_sort_key
from reproml.errors import CliError
from reproml.runs.stores import RunStore, filter_runs

MONGO_SCHEMES = ("mongodb://", "mongodb+srv://")
# Leading columns of `load_runs`, in order; ``config.*``, ``best.*`` and ``metrics.*`` follow.
RUN_COLUMNS = (
    "id",
    "experiment",
    "status",
    "start_time",
    "stop_time",
    "duration",
    "tags",
    "note",
    "dataset",
    "fingerprint",
    "model",
    "commit",
    "dirty",
    "seed",
    "result",
    "best_step",
)
METRIC_COLUMNS = ("run", "experiment", "metric", "step", "value", "timestamp")


class UnreadableRunWarning(UserWarning):
    """A run directory of the file store could not be read; the other runs are loaded."""


def open_run_store(store: str | os.PathLike | RunStore) -> RunStore:
    """Return the store named by `store`: a ``mongodb://`` URL, a runs directory, or a store.

    Raises:
      CliError: `store` is a path to no directory.
      MongoUnreachableError: the URL is not a MongoDB URL or its server does not answer.
    """
    if hasattr(store, "list_runs"):
        return store  # type: ignore[return-value]
    location = os.fspath(store)  # type: ignore[arg-type]
    if location.startswith(MONGO_SCHEMES):
        return open_mongo_store(location, "store")
    if not os.path.isdir(location):
        raise CliError(
            f"run store {location!r} is not a directory; expected a runs directory "
            "(a FileStorageObserver's) or a mongodb:// URL"
        )
    return FileStore(location)


def _runs(
    store: str | os.PathLike | RunStore, experiment: str | None, status: str | None
) -> list[RunRecord]:
    """The store's readable runs, filtered; one `UnreadableRunWarning` per unreadable run."""
    runs, problems = open_run_store(store).list_runs()
    for line in problems:
        warnings.warn(line, UnreadableRunWarning, stacklevel=3)
    return filter_runs(runs, experiment, status)


def run_row(run: RunRecord) -> dict[str, Any]:
    """Return one run as a flat dict: `RUN_COLUMNS`, then ``config.*``, ``best.*``, ``metrics.*``.

    ``config.<dotted key>`` is the flattened config (docstrings left out); ``best.<name>`` the
    metrics of the checkpoint the run reports (``info["best_checkpoint"]``), when it has one;
    ``metrics.<name>`` the last logged value of every metric.
    """
    best = run.info.get("best_checkpoint")
    best = best if isinstance(best, dict) else {}
    row: dict[str, Any] = {
        "id": run.run_id,
        "experiment": run.experiment,
        "status": run.shown_status,
        "start_time": run.start_time,
        "stop_time": run.stop_time,
        "duration": run.duration,
        "tags": tags_of(run),
        "note": notes_of(run),
        "dataset": run.dataset.get("name"),
        "fingerprint": run.dataset.get("fingerprint"),
        "model": run.model,
        "commit": run.code.get("commit"),
        "dirty": run.code.get("dirty"),
        "seed": run.seed,
        "result": run.result,
        "best_step": best.get("step"),
    }
    row.update({f"config.{k}": v for k, v in flatten_config(run.config).items()})
    row.update({f"best.{k}": v for k, v in (best.get("metrics") or {}).items()})
    row.update({f"metrics.{k}": value for k, (_, value) in run.final_metrics().items()})
    return row


def load_runs(
    store: str | os.PathLike | RunStore = "runs",
    experiment: str | None = None,
    status: str | None = None,
) -> pd.DataFrame:
    """Load every run of a store as one DataFrame row.

    Args:
      store: a runs directory (``runs/``), a ``mongodb://`` URL, or an open store.
      experiment: only the runs of this experiment, when given.
      status: only the runs with this status (COMPLETED, FAILED, RUNNING, PROBABLY_DEAD).

    Returns:
      One row a run, sorted by id: the columns of `RUN_COLUMNS` (``tags`` a list, ``commit``
      and ``fingerprint`` in full), then, each group sorted by name, ``config.<dotted key>``,
      ``best.<metric>`` (the reported checkpoint's) and ``metrics.<name>`` (last value). A
      value a run lacks is NaN.

    Raises:
      CliError: the store does not exist or holds no runs.
      MongoUnreachableError: the MongoDB URL is bad or its server does not answer.
    """
    runs = _runs(store, experiment, status)
    rows = [run_row(run) for run in sorted(runs, key=lambda r: run_sort_key(r.run_id))]
    frame = pd.DataFrame(rows)
    if frame.empty:
        return pd.DataFrame(columns=list(RUN_COLUMNS))
    prefixes = ("config.", "best.", "metrics.")
    extra = [c for p in prefixes for c in sorted(frame.columns) if c.startswith(p)]
    return frame[[*RUN_COLUMNS, *extra]]


def load_metrics(
    store: str | os.PathLike | RunStore = "runs",
    metric: str | None = None,
    experiment: str | None = None,
    status: str | None = None,
) -> pd.DataFrame:
    """Load the metric histories of a store's runs as one long DataFrame.

    Args:
      store: a runs directory, a ``mongodb://`` URL, or an open store.
      metric: only this metric (e.g. ``"eval.accuracy"``), when given.
      experiment: only the runs of this experiment, when given.
      status: only the runs with this status, when given.

    Returns:
      One row a logged value, with the columns of `METRIC_COLUMNS`: run id, experiment, metric
      name, step, value and the time it was logged (naive UTC, milliseconds, both stores
      alike); sorted by run, metric and position in the series.
    """
    rows = []
    for run in sorted(_runs(store, experiment, status), key=lambda r: run_sort_key(r.run_id)):
        for name, series in sorted(run.metrics.items()):
            if metric is not None and name != metric:
                continue
            values = series.get("values") or []
            steps = series.get("steps") or [None] * len(values)
            stamps = series.get("timestamps") or [None] * len(values)
            if not len(steps) == len(values) == len(stamps):
                raise CliError(
                    f"run {run.run_id} ({run.location}) metric {name!r}: {len(steps)} steps, "
                    f"{len(values)} values, {len(stamps)} timestamps; expected one of each a value"
                )
            for step, value, stamp in zip(steps, values, stamps, strict=True):
                rows.append((run.run_id, run.experiment, name, step, value, parse_time(stamp)))
    return pd.DataFrame(rows, columns=list(METRIC_COLUMNS))
