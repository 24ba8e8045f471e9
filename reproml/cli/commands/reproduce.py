"""`reproml reproduce RUN`: re-run a run with its recorded config and seed, compare metrics.

Every metric of the re-run is compared with the original's: exact match or not.

Before running it refuses (unless ``--force``) when the local records' fingerprint differs
from the recorded one (``manifest.json`` in the run's ``record_dir``), or when the code differs
from the recorded commit and uncommitted diff. The new run is recorded in the same store with
``info["reproduces"]`` set to the original id.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from reproml.cli.table import render_table
from reproml.errors import RecordError
from reproml.runs.code_state import CodeState, current_code_state, summarize_diff
from reproml.runs.file_store import FileStore
from reproml.runs.mongo import gridfs_of
from reproml.runs.mongo_store import MongoStore
from reproml.runs.record import TIMING_METRICS, CliError, RunRecord
from reproml.runs.stores import MONGO_URL_ENV, RunStore, open_store

EXIT_DIFFERS = 1


def _import_experiment(name: str) -> Any:
    """Return ``experiments.<name>.ex``."""
    try:
        module = importlib.import_module(f"experiments.{name}")
    except ImportError as err:
        raise CliError(f"cannot import experiments.{name} to re-run it ({err})") from None
    if not hasattr(module, "ex"):
        raise CliError(f"experiments.{name} has no Sacred experiment named `ex`")
    return module.ex


# Both are module attributes so tests can substitute them.
experiment_loader: Callable[[str], Any] = _import_experiment
code_state: Callable[[str | Path], CodeState] = current_code_state


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register `reproduce`."""
    parser = subparsers.add_parser("reproduce", help="re-run a run and check it reproduces")
    parser.add_argument("run_id", metavar="RUN", help="run id")
    parser.add_argument(
        "--force", action="store_true", help="run even if the records or the code differ"
    )
    parser.add_argument(
        "--repo", default=None, help="git checkout holding the code (default: reproml's own)"
    )
    parser.set_defaults(func=run)


def dataset_problems(original: RunRecord) -> list[str]:
    """Return why the local records differ from the run's (empty when they match).

    Compares the manifest's fingerprint with the recorded one, then recomputes every shard's
    hash (`reproml.records.verify.verify`), so a shard changed behind the manifest's back is caught.
    """
    from reproml.records.manifest import load_manifest  # imports TensorFlow: only when reproducing
    from reproml.records.verify import verify

    dataset = original.dataset
    record_dir, recorded = dataset.get("record_dir"), dataset.get("fingerprint")
    if not record_dir or not recorded:
        return [f"run {original.run_id} recorded no dataset record_dir/fingerprint"]
    try:
        manifest = load_manifest(record_dir)
    except RecordError as err:
        return [f"records: {err}"]
    if manifest.fingerprint != recorded:
        return [
            f"dataset fingerprint differs: recorded {recorded[:12]}, "
            f"{record_dir} has {manifest.fingerprint[:12]}"
        ]
    return [f"records: {problem}" for problem in verify(record_dir)]


def code_problems(original: RunRecord, store: RunStore, repo: str | Path | None) -> list[str]:
    """Return how the code in `repo` differs from the recorded commit + diff."""
    code = original.code
    if not code.get("commit"):
        return [f"run {original.run_id} recorded no code commit"]
    now = code_state(repo)
    problems = []
    if now.commit != code["commit"]:
        problems.append(
            f"commit differs: recorded {code['commit'][:12]}, checked out {now.commit[:12]}"
        )
    artifact = code.get("diff_artifact")
    if artifact:
        recorded_diff = store.read_artifact(original, artifact).decode("utf-8", "replace")
    elif code.get("dirty"):
        return problems + [f"run {original.run_id} was dirty but recorded no diff artifact"]
    else:
        recorded_diff = ""
    if now.diff != recorded_diff:
        problems.append(
            f"uncommitted changes differ: recorded diff {summarize_diff(recorded_diff)}, "
            f"now {summarize_diff(now.diff)}"
        )
    return problems


def _observer_for(store: RunStore) -> Any:
    """Return a Sacred observer recording into `store`."""
    if isinstance(store, FileStore):
        from sacred.observers import FileStorageObserver

        return FileStorageObserver(store.root)
    from sacred.observers import MongoObserver

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


def rerun(original: RunRecord, store: RunStore) -> RunRecord:
    """Run the experiment again with the recorded command, config and seed.

    The re-run's output goes to stderr. It is recorded in `store` only (``$REPROML_MONGO_URL``
    is ignored meanwhile, so a ``ReproExperiment`` adds no second MongoDB observer).

    Returns:
      The new run, read back from `store`.

    Raises:
      CliError: the experiment cannot be imported or the re-run failed.
    """
    ex = experiment_loader(original.experiment)
    observer = _observer_for(store)
    saved_observers = list(ex.observers)
    ex.observers[:] = [observer]
    saved_url = os.environ.pop(MONGO_URL_ENV, None)
    try:
        # The experiment's own output goes to stderr: stdout is the reproduction report.
        with contextlib.redirect_stdout(sys.stderr):
            new = ex.run(
                command_name=original.raw.get("command") or None,
                config_updates=dict(original.config),
                info={"reproduces": original.run_id},
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
    new_id = _new_run_id(new, store)
    if new_id is None:
        raise CliError(
            f"the re-run of run {original.run_id} was not recorded in {store.description}"
        )
    return store.get_run(new_id)


def metric_report(original: RunRecord, new: RunRecord) -> tuple[list[tuple], bool]:
    """Return table rows ``(metric, original, re-run, verdict)`` and whether all match exactly.

    The table shows final values, but a metric is ``exact`` only when its whole logged series
    (every step and value) is identical. Timing metrics are listed but not compared.
    """
    a, b = original.final_metrics(), new.final_metrics()
    rows, exact = [], True
    verdict = _verdict(original.result, new.result)
    exact &= verdict == "exact"
    rows.append(("result", original.result, new.result, verdict))
    for name in sorted(set(a) | set(b)):
        va, vb = a.get(name, (None, None))[1], b.get(name, (None, None))[1]
        if name in TIMING_METRICS:
            verdict = "timing, not compared"
        else:
            verdict = _verdict(va, vb)
            series_a, series_b = original.metrics.get(name, {}), new.metrics.get(name, {})
            same_series = all(series_a.get(k) == series_b.get(k) for k in ("steps", "values"))
            if verdict == "exact" and not same_series:
                verdict = "final value exact, earlier values DIFFER"
            exact &= verdict == "exact"
        rows.append((name, va, vb, verdict))
    return rows, exact


def _verdict(original: Any, new: Any) -> str:
    if original == new:
        return "exact"
    if isinstance(original, int | float) and isinstance(new, int | float):
        return f"DIFFERS by {new - original:+.3g}"
    return "DIFFERS"


def run(args: argparse.Namespace) -> int:
    """Check, re-run and reports; returns 0 if every metric reproduced exactly, else 1."""
    store = open_store(args)
    original = store.get_run(args.run_id)
    problems = dataset_problems(original) + code_problems(original, store, args.repo)
    if problems and not args.force:
        raise CliError(
            f"refusing to reproduce run {original.run_id}: {'; '.join(problems)} "
            "(pass --force to run anyway)"
        )
    for problem in problems:
        print(f"warning: --force: {problem}", file=sys.stderr)
    new = rerun(original, store)
    rows, exact = metric_report(original, new)
    print(
        f"re-ran run {original.run_id} ({original.experiment}, seed {original.seed}) "
        f"as run {new.run_id}"
    )
    print(render_table(("metric", f"run {original.run_id}", f"run {new.run_id}", "verdict"), rows))
    if exact:
        print(f"run {original.run_id} reproduced exactly")
        return 0
    print(f"run {original.run_id} did NOT reproduce exactly")
    return EXIT_DIFFERS
