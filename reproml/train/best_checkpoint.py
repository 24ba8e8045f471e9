"""The best checkpoint of a training and early stopping: which step had the best eval metric.

`BestCheckpoint` watches every evaluation of `reproml.train.loop.train_and_evaluate`. When the chosen eval metric
improves, the evaluated checkpoint is copied to ``<model_dir>/best/`` (so the Estimator's
``keep_checkpoint_max`` cannot delete it) and ``best/best.json`` records its step and value; a
resumed training reads that file back. With a `patience` of N, `should_stop` tells the caller
to stop once N evaluations in a row have not improved the metric.

    model_dir/best/model.ckpt-150.index, ...data-00000-of-00001   the copied checkpoint
    model_dir/best/best.json   {"metric", "mode", "step", "value", "checkpoint", "since_best"}
"""

from __future__ import annotations

import json
import math
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from reproml.errors import ConfigError
from reproml.models.scalar_metrics import scalar_metrics

BEST_DIR = "best"
STATE_FILE = "best.json"
MODES = ("max", "min")


def check_early_stopping(metric: Any, mode: Any, patience: Any) -> None:
    """Refuse bad early-stopping settings, naming the config entry.

    Raises:
      ConfigError: `metric` is not a non-empty str or None, `mode` not max/min, or `patience`
        not None or an int >= 1 (or given without a metric).
    """
    if metric is not None and (not isinstance(metric, str) or not metric):
        raise ConfigError("best_metric", "an eval metric name (e.g. 'accuracy') or None", metric)
    if mode not in MODES:
        raise ConfigError("best_mode", f"one of {list(MODES)}", mode)
    if patience is not None:
        if isinstance(patience, bool) or not isinstance(patience, int) or patience < 1:
            raise ConfigError("patience", "None or an int >= 1 (evaluations)", patience)
        if metric is None:
            raise ConfigError("best_metric", "an eval metric name when patience is set", metric)


class BestCheckpoint:
    """Keep the checkpoint with the best value of one eval metric, and count evaluations since.

    Args:
      model_dir: the Estimator's model_dir (``best/`` is made inside it).
      metric: the eval metric to compare (a key of `Estimator.evaluate`'s result).
      mode: ``max`` (larger is better, e.g. accuracy) or ``min`` (e.g. loss).
      patience: stop after this many evaluations without improvement (None: never).
    """

    def __init__(
        self, model_dir: str | Path, metric: str, mode: str = "max", patience: int | None = None
    ) -> None:
        check_early_stopping(metric, mode, patience)
        self.dir = Path(model_dir) / BEST_DIR
        self.metric, self.mode, self.patience = metric, mode, patience
        self.step: int | None = None
        self.value: float | None = None
        self.checkpoint: str | None = None
        self.since_best = 0
        self._restore()

    def _restore(self) -> None:
        state_path = self.dir / STATE_FILE
        if not state_path.is_file():
            return
        state = json.loads(state_path.read_text(encoding="utf-8"))
        if state.get("metric") != self.metric or state.get("mode") != self.mode:
            # Another metric was tracked before: its best says nothing about this one.
            return
        self.step, self.value = int(state["step"]), float(state["value"])
        self.checkpoint = str(self.dir / state["checkpoint"])
        self.since_best = int(state.get("since_best", 0))

    def _better(self, value: float) -> bool:
        if math.isnan(value):
            return False
        if self.value is None:
            return True
        return value > self.value if self.mode == "max" else value < self.value

    def update(self, step: int, metrics: Mapping[str, Any], checkpoint: str) -> bool:
        """Take the evaluation of `checkpoint` at `step`; return True if it is the new best.

        Raises:
          ConfigError: the metric is not one of the evaluation's scalar metrics.
        """
        scalars = scalar_metrics(metrics)
        if self.metric not in scalars:
            raise ConfigError(
                "best_metric", f"one of the eval metrics {sorted(scalars)}", self.metric
            )
        value = scalars[self.metric]
        if not self._better(value):
            self.since_best += 1
            self._save()
            return False
        self.dir.mkdir(parents=True, exist_ok=True)
        source = Path(checkpoint)
        copied = sorted(source.parent.glob(source.name + ".*"))
        if not copied:
            raise FileNotFoundError(f"checkpoint {checkpoint}: no files {source.name}.* to keep")
        for old in self.dir.glob("model.ckpt-*"):
            old.unlink()
        for path in copied:
            shutil.copy2(path, self.dir / path.name)
        self.step, self.value, self.since_best = int(step), value, 0
        self.checkpoint = str(self.dir / source.name)
        self._save()
        return True

    def _save(self) -> None:
        if self.checkpoint is None:
            return
        state = {
            "metric": self.metric,
            "mode": self.mode,
            "step": self.step,
            "value": self.value,
            "checkpoint": Path(self.checkpoint).name,
            "since_best": self.since_best,
        }
        tmp = self.dir / (STATE_FILE + ".tmp")
        tmp.write_text(json.dumps(state, indent=2) + "\n", encoding="utf-8")
        tmp.replace(self.dir / STATE_FILE)

    def should_stop(self) -> bool:
        """Tell whether `patience` evaluations in a row did not improve the metric."""
        return self.patience is not None and self.since_best >= self.patience

    def record(self) -> dict[str, Any]:
        """Return what the run records as ``info["best_checkpoint"]``."""
        return {
            "metric": self.metric,
            "mode": self.mode,
            "step": self.step,
            "value": self.value,
            "path": self.checkpoint,
        }
