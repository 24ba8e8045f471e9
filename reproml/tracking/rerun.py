"""Re-run a recorded run's Sacred experiment into the store holding it (`reproml reproduce`).

The checks before and the comparison after are `reproml.runs.reproduce`; this module is the
Sacred side: an observer recording into the run's store, the recorded command, config and seed,
and the id the store gave the new run.
"""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path
from typing import Any

from sacred.observers import MongoObserver

from reproml.errors import CliError
from reproml.runs.file_store import FileStore
from reproml.runs.mongo import gridfs_of
from reproml.runs.mongo_store import MongoStore
from reproml.runs.record import RunRecord
from reproml.runs.reproduce import (
    CPU_KERNELS_ENTRY,
    OVERRIDES_INFO,
    declared_kernels,
    fresh_model_dir,
)
from reproml.runs.started import STARTED_INFO, run_cwd, started_of
from reproml.runs.stores import MONGO_URL_ENV, RunStore
from reproml.sacred_internals import captures_entry
from reproml.tracking.atomic_observer import AtomicFileStorageObserver
from reproml.tracking.observers import incomplete_records


def _observer_for(store: RunStore) -> Any:
    """Return a Sacred observer recording into `store`."""
    if isinstance(store, FileStore):
        return AtomicFileStorageObserver(store.root.resolve())  # the re-run runs in its cwd
    db = store.db
    return MongoObserver.create_from(db.runs, gridfs_of(db), metrics_collection=db.metrics)


def _new_run_id(run: Any, store: RunStore) -> str | None:
    """Return the id `store` gave the re-run (the file store may number it differently)."""
    for observer in run.observers:
        inner = getattr(observer, "observer", observer)  # reproml's GuardedObserver wraps it
        if isinstance(store, FileStore) and getattr(inner, "dir", None):
            if Path(inner.basedir).resolve() == store.root.resolve():
                return Path(inner.dir).name
        runs = getattr(inner, "runs", None)
        if isinstance(store, MongoStore) and runs is not None and runs.database is store.db:
            return str(inner.run_entry["_id"])
    return None


def rerun(
    original: RunRecord,
    store: RunStore,
    ex: Any,
    up_to: int | None = None,
    repo: Path | None = None,
    force: bool = False,
) -> RunRecord:
    """Run the experiment `ex` again with the recorded command, config and seed.

    It runs in the directory the run was started in (``info.started.cwd`` in `repo`), so the
    config's relative paths name the same files; ``info.started`` is kept.

    The re-run's output goes to stderr. It is recorded in `store` only (``$REPROML_MONGO_URL``
    is ignored meanwhile, so no second MongoDB observer is added). With `up_to` (an interrupted
    run) it trains to that step instead of the config's ``steps``. It trains into a fresh model
    dir (`fresh_model_dir`), and declares the CPU kernels the run ran when `ex` takes a
    ``cpu_kernels`` entry (`declared_kernels`; with `force`, those ``TF_ENABLE_ONEDNN_OPTS``
    sets).

    Returns:
      The new run, read back from `store`.

    Raises:
      CliError: the experiment cannot be imported or the re-run failed.
    """
    command = original.raw.get("command") or None
    config, overrides = fresh_model_dir(dict(original.config), command)
    config, kernels = declared_kernels(
        config, original.info, captured=captures_entry(ex, CPU_KERNELS_ENTRY), force=force
    )
    overrides.update(kernels)
    if up_to is not None and "steps" in config:
        config["steps"] = up_to
    started = started_of(original.info, original.experiment)
    info = {"reproduces": original.run_id, STARTED_INFO: started}
    if overrides:
        info[OVERRIDES_INFO] = overrides
    cwd = run_cwd(started, repo) if repo is not None else Path.cwd()  # relative paths as then
    observer = _observer_for(store)
    saved_observers = list(ex.observers)
    ex.observers[:] = [observer]
    saved_url = os.environ.pop(MONGO_URL_ENV, None)
    try:
        # The experiment's own output goes to stderr: stdout is the reproduction report.
        with contextlib.redirect_stdout(sys.stderr), contextlib.chdir(cwd):
            new = ex.run(
                command_name=command,
                config_updates=config,
                info=info,
                options={"--seed": original.seed},
            )
    except Exception as err:  # the experiment's own failure, reported as one line
        raise CliError(
            f"the re-run of run {original.run_id} failed: {type(err).__name__}: {err}"
        ) from None
    finally:
        ex.observers[:] = saved_observers
        if saved_url is not None:
            os.environ[MONGO_URL_ENV] = saved_url
    incomplete = incomplete_records(new)
    if incomplete:
        raise CliError(f"the re-run of run {original.run_id}: {'; '.join(incomplete)}")
    new_id = _new_run_id(new, store)
    if new_id is None:
        raise CliError(
            f"the re-run of run {original.run_id} was not recorded in {store.description}"
        )
    return store.get_run(new_id)
