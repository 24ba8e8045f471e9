"""`RunRecord`: one Sacred run as the CLI sees it, whichever store it was read from.

Both stores (`file_store`, `mongo_store`) turn what Sacred's observers wrote into a
`RunRecord`, so every command works the same on ``runs/`` and on MongoDB. The run info keys
and metric names it reads are the ones fixed in ``docs/architecture.md``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import urllib.parse
from collections.abc import Mapping
from typing import Any

from reproml.errors import ReproMLError

# Metrics that measure speed, not the model: they are never expected to reproduce.
TIMING_METRICS = ("train.steps_per_sec",)
# A RUNNING run silent for longer than this is shown as PROBABLY_DEAD (Sacred beats every 10 s).
STALE_HEARTBEAT = dt.timedelta(minutes=2)
# Artifacts every tracked run may hold (written by reproml.tracking.recording).
DIFF_ARTIFACT = "code.diff"  # git diff HEAD of the checkout, bytes as they are
FREEZE_ARTIFACT = "pip-freeze.txt"  # pip freeze --all of the interpreter
EXPORT_ARTIFACT = "saved_model.zip"  # the exported SavedModel (small models only)
# The content of a module imported during the run that is in no commit (`source_artifact_name`).
SOURCE_ARTIFACT_PREFIX = "source-"


def source_artifact_name(relative_path: str) -> str:
    """Return the artifact name keeping the content of source file `relative_path`.

    A file store keeps an artifact as one file in the run's directory, so the path is quoted
    into one file name: ``reproml/models/networks/mynet.py`` is kept as
    ``source-reproml%2Fmodels%2Fnetworks%2Fmynet.py`` (`urllib.parse.quote`, reversible).
    """
    return SOURCE_ARTIFACT_PREFIX + urllib.parse.quote(relative_path, safe="")


@dataclasses.dataclass
class RunRecord:
    """One run: what Sacred recorded in ``run.json`` / the ``runs`` document, plus metrics.

    Attributes:
      run_id: the store's id of the run, as a string.
      experiment: the Sacred experiment name.
      status: RUNNING, COMPLETED, FAILED, INTERRUPTED, ...
      start_time: when it started (naive UTC, as Sacred records it), or None.
      stop_time: when it stopped, or None while it runs.
      heartbeat: the last heartbeat, or None.
      result: the main result the run returned.
      config: the full config, seed included.
      info: the run info (dataset, model, code, ...).
      metrics: ``{name: {"steps": [...], "values": [...], "timestamps": [...]}}``.
      artifacts: artifact names, in the order they were added.
      location: where the run was read from (a directory or ``mongodb .../runs/<id>``).
      raw: the run entry as stored (``run.json`` or the Mongo document).
    """

    run_id: str
    experiment: str
    status: str
    start_time: dt.datetime | None
    stop_time: dt.datetime | None
    heartbeat: dt.datetime | None
    result: Any
    config: dict[str, Any]
    info: dict[str, Any]
    metrics: dict[str, dict[str, list]]
    artifacts: list[str]
    location: str
    raw: dict[str, Any] = dataclasses.field(default_factory=dict, repr=False)

    @property
    def duration(self) -> dt.timedelta | None:
        """Time from start to stop (or to the last heartbeat while running), or None."""
        end = self.stop_time or self.heartbeat
        if self.start_time is None or end is None:
            return None
        return end - self.start_time

    def probably_dead(self, now: dt.datetime | None = None) -> bool:
        """Tell whether the run says RUNNING but has sent no heartbeat for `STALE_HEARTBEAT`.

        A process killed by the OS (OOM, SIGKILL) cannot record its end, so its record stays
        RUNNING forever; Sacred beats every 10 s, so a silence of minutes means it is gone.
        """
        if self.status != "RUNNING":
            return False
        last = self.heartbeat or self.start_time
        now = now or dt.datetime.now(dt.UTC).replace(tzinfo=None)
        return last is None or now - last > STALE_HEARTBEAT

    @property
    def shown_status(self) -> str:
        """The status to show: ``PROBABLY_DEAD`` (as Omniboard says) for a silent RUNNING run."""
        return "PROBABLY_DEAD" if self.probably_dead() else self.status

    @property
    def seed(self) -> int | None:
        """The seed Sacred used (the ``seed`` config entry)."""
        return self.config.get("seed")

    def final_metrics(self) -> dict[str, tuple[Any, Any]]:
        """Return ``{name: (last step, last value)}`` for every metric with values."""
        final = {}
        for name, series in sorted(self.metrics.items()):
            values, steps = series.get("values") or [], series.get("steps") or []
            if values:
                final[name] = (steps[-1] if steps else None, values[-1])
        return final

    def final_metric(self, name: str) -> Any:
        """Return the last value of metric `name`, or None if it was never logged."""
        return self.final_metrics().get(name, (None, None))[1]

    @property
    def dataset(self) -> dict[str, Any]:
        """``info["dataset"]``: name, record_dir, fingerprint, source (empty if not recorded)."""
        value = self.info.get("dataset")
        return dict(value) if isinstance(value, Mapping) else {}

    @property
    def code(self) -> dict[str, Any]:
        """``info["code"]``: commit, dirty, diff_artifact (empty if not recorded)."""
        value = self.info.get("code")
        return dict(value) if isinstance(value, Mapping) else {}

    @property
    def model(self) -> str | None:
        """The network name: ``info["model"]``, else the ``network`` config entry."""
        return self.info.get("model") or self.config.get("network")


def parse_time(value: Any) -> dt.datetime | None:
    """Return a datetime from Sacred's ISO string (file store) or datetime (MongoDB).

    Times are cut to milliseconds, MongoDB's precision, so both stores show the same run alike.
    """
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value)
        except ValueError:
            return None
    if not isinstance(value, dt.datetime):
        return None
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


def flatten_config(config: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Return nested config dicts as one dict with dotted keys (``{"a": {"b": 1}}`` -> ``a.b``).

    Sacred's ``__doc__`` entries (a named config's docstring) are left out.
    """
    flat: dict[str, Any] = {}
    for key, value in config.items():
        if str(key).startswith("__"):
            continue
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            flat.update(flatten_config(value, name + "."))
        else:
            flat[name] = value
    return flat


def class_count_lines(
    dataset: Mapping[str, Any], shown: int = 12, entry: str = "examples_per_class"
) -> list[tuple[str, str]]:
    """Return ``(split, "cat 40, dog 40, ...")`` per split of a run's ``info.dataset``.

    Splits in the order train, eval, test, then any other by name.

    From `entry`: ``examples_per_class`` (class labels and label sets) or ``boxes_per_class``
    (box labels), both recorded by `reproml.tracking.recording.record_dataset`; at most `shown`
    classes per line, then ``... (N classes)``. Empty when the run recorded no such counts.
    """
    per_class = dataset.get(entry)
    if not isinstance(per_class, Mapping):
        return []
    lines = []
    order = {"train": 0, "eval": 1, "test": 2}
    for split, counts in sorted(per_class.items(), key=lambda kv: (order.get(kv[0], 3), kv[0])):
        if not isinstance(counts, Mapping):
            continue
        items = [f"{name} {count}" for name, count in counts.items()]
        more = f", ... ({len(items)} classes)" if len(items) > shown else ""
        lines.append((str(split), ", ".join(items[:shown]) + more))
    return lines


def missing_class_lines(dataset: Mapping[str, Any]) -> list[str]:
    """Return one warning per split of ``info.dataset.classes_missing``: the classes it lacks."""
    missing = dataset.get("classes_missing")
    if not isinstance(missing, Mapping):
        return []
    return [
        f"WARNING: split {split!r} has no examples of {len(names)} class(es): {', '.join(names)}"
        for split, names in missing.items()
        if isinstance(names, list) and names
    ]


def run_sort_key(run_id: str) -> tuple[int, int | str]:
    """Sort numeric run ids numerically, before any other ids."""
    return (0, int(run_id)) if str(run_id).isdigit() else (1, str(run_id))
