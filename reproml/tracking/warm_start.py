"""``init_from=<run id>``: start a run from another run's checkpoint, recorded as lineage.

`warm_start_from_run` finds the parent in the store the run records into -- its MongoDB when
it records into one (``-m`` or ``REPROML_MONGO_URL``: the id is the one ``reproml --mongo URL
runs`` lists), else its file store -- takes the best checkpoint the parent reported (else its
latest), records ``info["lineage"] = {"parent", "checkpoint", "experiment"}`` (plus ``"store":
"MongoDB host:port/db"`` for a MongoDB parent, see `reproml.runs.lineage`) and returns the ``tf.estimator.WarmStartSettings`` the
Estimator initializes its model variables from (`MODEL_VARIABLES`: batch-norm statistics
included, optimizer slots and the global step not; a checkpoint in the run's own model_dir,
on resume, wins).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sacred.observers import MongoObserver

from reproml.errors import CliError, ConfigError, RecordError
from reproml.lazy import lazy_import
from reproml.runs.file_store import FileStore
from reproml.runs.lineage import LINEAGE_KEY, MONGO_STORE_PREFIX, lineage_problems
from reproml.runs.mongo_store import MongoStore
from reproml.runs.record import RunRecord

tf = lazy_import("tensorflow")

# Every model variable, trainable or not (batch-norm statistics too), but not the step counter
# nor the optimizer's slots and accumulators: the child trains on with its own optimizer.
# (A list of regexes selects among GLOBAL_VARIABLES; a single string only among trainables.)
# (Matched against variable names such as "beta1_power:0", so no pattern ends in "$".)
MODEL_VARIABLES = [
    r"^(?!global_step[:_]|global_step$)(?!beta[12]_power)"
    r"(?!.*/(Adam|Adam_1|RMSProp|RMSProp_1|Adagrad)(:|$)).*"
]


def parent_checkpoint(parent: RunRecord) -> str:
    """The checkpoint a child starts from: the parent's best, else the latest in its model_dir.

    Raises:
      ConfigError: the parent has no checkpoint files (named as config entry ``init_from``).
    """
    best = (parent.info.get("best_checkpoint") or {}).get("path")
    if best and Path(best + ".index").is_file():
        return str(best)
    model_dir = parent.info.get("model_dir")
    latest = tf.train.latest_checkpoint(model_dir) if model_dir else None
    if latest:
        return str(latest)
    raise ConfigError(
        "init_from",
        f"a run with a checkpoint (run {parent.run_id}'s best {best} and model_dir {model_dir} "
        "hold none)",
        parent.run_id,
    )


def mongo_store_of(_run: Any) -> MongoStore | None:
    """The MongoDB store `_run` records into (its first MongoObserver's database), or None."""
    for observer in _run.observers:
        inner = getattr(observer, "observer", observer)  # reproml's GuardedObserver wraps it
        if isinstance(inner, MongoObserver):
            runs = inner.runs
            name = str(getattr(observer, "name", ""))
            if name.startswith(MONGO_STORE_PREFIX):  # "MongoDB host:port/db" (no credentials)
                description = name[len(MONGO_STORE_PREFIX) :]
            else:
                description = f"{runs.database.name} (database)"
            return MongoStore(runs.database, description)
    return None


def warm_start_from_run(_run: Any, run_id: str, runs_dir: str | os.PathLike | None = None) -> Any:
    """Return the WarmStartSettings of run `run_id`'s checkpoint; record ``info["lineage"]``.

    Args:
      _run: the Sacred run (child).
      run_id: the parent's id in the MongoDB `_run` records into, if any, else in its file
        store (or in `runs_dir`).
      runs_dir: the file store; None: the one `_run` records into (``info["run_dir"]``'s parent).

    Raises:
      ConfigError: no store, no such run (the store is named), or it has no checkpoint.
    """
    mongo = mongo_store_of(_run) if runs_dir is None else None
    if mongo is not None:
        store: Any = mongo
        where = f"MongoDB {mongo.description}"
    else:
        if runs_dir is None:
            run_dir = _run.info.get("run_dir")
            if not run_dir:
                raise ConfigError("init_from", "a run recorded in a file store (runs/)", run_id)
            runs_dir = Path(run_dir).parent
        store, where = FileStore(runs_dir), str(runs_dir)
    try:
        parent = store.get_run(str(run_id))
    except (CliError, RecordError) as err:  # no such run / a corrupt one: named as the entry
        raise ConfigError("init_from", f"a run id in {where} ({err})", run_id) from None
    checkpoint = parent_checkpoint(parent)
    lineage = {"parent": parent.run_id, "checkpoint": checkpoint, "experiment": parent.experiment}
    if mongo is not None:
        lineage["store"] = f"{MONGO_STORE_PREFIX}{mongo.description}"
    _run.info[LINEAGE_KEY] = lineage
    return tf.estimator.WarmStartSettings(
        ckpt_to_initialize_from=checkpoint, vars_to_warm_start=MODEL_VARIABLES
    )


__all__ = ["lineage_problems", "mongo_store_of", "parent_checkpoint", "warm_start_from_run"]
