"""`reproml reproduce RUN`: re-run a run with its recorded config and seed, compare metrics.

Every metric of the re-run is compared with the original's: exact match or not.

Before running it refuses (unless ``--force``) when the local records' fingerprint differs
from the recorded one (``manifest.json`` in the run's ``record_dir``), when the backbone's
weights file is missing or has another sha256 than recorded, or when the code differs
from the recorded commit and uncommitted diff. The new run is recorded in the same store with
``info["reproduces"]`` set to the original id.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import math
import os
import sys
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from reproml.cli.table import render_table
from reproml.errors import RecordError
from reproml.records.file_hash import file_sha256
from reproml.runs.code_state import (
    MAX_FILES_NAMED,
    CodeState,
    changed_files,
    current_code_state,
    require_checkout,
    summarize_diff,
)
from reproml.runs.file_store import FileStore
from reproml.runs.lineage import lineage_problems
from reproml.runs.mongo import gridfs_of
from reproml.runs.mongo_store import MongoStore
from reproml.runs.record import TIMING_METRICS, CliError, RunRecord
from reproml.runs.stores import MONGO_URL_ENV, RunStore, open_store
from reproml.tracking.observers import incomplete_records

EXIT_DIFFERS = 1


def _import_experiment(name: str, repo: Path) -> Any:
    """Return ``experiments.<name>.ex``, imported from the checkout `repo`.

    Raises:
      CliError: it cannot be imported, has no ``ex``, or would be imported from elsewhere.
    """
    if str(repo) not in sys.path:
        sys.path.insert(0, str(repo))
    try:
        module = importlib.import_module(f"experiments.{name}")
    except ImportError as err:
        raise CliError(
            f"cannot import experiments.{name} from {repo} to re-run it ({err})"
        ) from None
    if not hasattr(module, "ex"):
        raise CliError(f"experiments.{name} has no Sacred experiment named `ex`")
    return module.ex


def imported_elsewhere(repo: Path, files: Iterable[str]) -> list[str]:
    """Return the recorded files whose module this process imported from outside `repo`.

    The hashes are checked in `repo`; the re-run executes what is imported. Both must be the same
    files (e.g. not a site-packages copy of reproml while the run recorded the checkout's).
    """
    problems = []
    for name in files:
        if not name.endswith(".py"):
            continue
        dotted = name[: -len(".py")].replace("/", ".").removesuffix(".__init__")
        module = sys.modules.get(dotted)
        path = getattr(module, "__file__", None)
        if path and Path(path).resolve() != (repo / name).resolve():
            problems.append(f"{name} is imported from {path}, not from {repo}")
    return problems


# Both are module attributes so tests can substitute them.
experiment_loader: Callable[[str, Path], Any] = _import_experiment
code_state: Callable[[str | Path], CodeState] = current_code_state


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register `reproduce`."""
    parser = subparsers.add_parser("reproduce", help="re-run a run and check it reproduces")
    parser.add_argument("run_id", metavar="RUN", help="run id")
    parser.add_argument(
        "--force", action="store_true", help="run even if the records or the code differ"
    )
    parser.add_argument(
        "--repo",
        default=None,
        help="git checkout holding the code (default: the one the run recorded)",
    )
    parser.add_argument(
        "--rtol",
        type=float,
        default=None,
        help="asynchronous parameter-server job: relative tolerance for every metric "
        "(default: the measured per-metric table; see docs/distributed.md)",
    )
    parser.add_argument(
        "--atol",
        type=float,
        default=None,
        help="asynchronous parameter-server job: absolute tolerance for every metric",
    )
    parser.set_defaults(func=run)


def tolerances_from(args: argparse.Namespace) -> list | None:
    """Return one tolerance for every metric from ``--rtol``/``--atol`` (None: the table).

    Raises:
      CliError: a negative or non-finite value.
    """
    rtol, atol = getattr(args, "rtol", None), getattr(args, "atol", None)
    if rtol is None and atol is None:
        return None
    for flag, value in (("--rtol", rtol), ("--atol", atol)):
        if value is not None and not (math.isfinite(value) and value >= 0):
            raise CliError(f"{flag} must be a finite number >= 0, got {value}")
    from reproml.cluster.reproducibility import Tolerance

    return [Tolerance("*", rtol or 0.0, atol or 0.0, measured="")]


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


def weights_problems(original: RunRecord) -> list[str]:
    """Return how the weights file the run started from differs from the recorded one.

    ``info["backbone_weights"]`` names the file and its sha256 (`resolve_backbone_weights`).
    """
    recorded = original.info.get("backbone_weights") or {}
    path, sha256 = recorded.get("file"), recorded.get("sha256")
    if not path:
        return []
    if not Path(path).is_file():
        return [f"weights file {path} is missing (the run recorded sha256 {sha256})"]
    _, actual = file_sha256(path)
    if actual != sha256:
        return [f"weights file {path} has sha256 {actual}, the run recorded {sha256}"]
    return []


def recorded_repo(original: RunRecord, repo: str | Path | None) -> Path:
    """The checkout to check and re-run: `repo`, else the one the run recorded.

    Raises:
      CliError: neither is given, or the recorded checkout is not on this machine.
    """
    if repo:
        return Path(repo).resolve()
    recorded = original.code.get("repo") or (original.raw.get("experiment") or {}).get("base_dir")
    if not recorded:
        raise CliError(f"run {original.run_id} recorded no checkout; pass --repo DIR")
    if not Path(recorded).is_dir():
        raise CliError(
            f"run {original.run_id} ran in {recorded}, which is not on this machine; pass "
            "--repo DIR (a checkout of the same code)"
        )
    return Path(recorded)


def code_problems(original: RunRecord, store: RunStore, repo: Path) -> list[str]:
    """Return how the code in `repo` differs from what the run recorded (empty: the same).

    Compares the commit, ``git diff HEAD`` (byte for byte) and the sha256 of every file the run
    depended on (its sources, tracked or not).
    """
    code = original.code
    if not code.get("commit"):
        return [f"run {original.run_id} recorded no code commit"]
    now = require_checkout(code_state(repo))
    problems = []
    if now.commit != code["commit"]:
        problems.append(
            f"commit differs: recorded {code['commit'][:12]}, checked out {now.commit[:12]}"
        )
    artifact = code.get("diff_artifact")
    recorded_diff = store.read_artifact(original, artifact) if artifact else b""
    if now.diff != recorded_diff:
        problems.append(
            f"uncommitted changes differ: recorded diff {summarize_diff(recorded_diff)}, "
            f"now {summarize_diff(now.diff)}"
        )
    changed = changed_files(now.repo, code.get("files") or {})
    if changed:
        shown = ", ".join(changed[:MAX_FILES_NAMED])
        more = (
            f" and {len(changed) - MAX_FILES_NAMED} more" if len(changed) > MAX_FILES_NAMED else ""
        )
        problems.append(f"files the run depended on differ: {shown}{more}")
    return problems


def _observer_for(store: RunStore) -> Any:
    """Return a Sacred observer recording into `store`."""
    if isinstance(store, FileStore):
        from reproml.tracking.file_store import AtomicFileStorageObserver

        return AtomicFileStorageObserver(store.root)
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


def reached_step(original: RunRecord) -> int | None:
    """The last training step an INTERRUPTED (or dead) run reached, else None."""
    if original.status == "COMPLETED":
        return None
    step = original.info.get("stopped_at_step")
    if step is None:
        steps = (original.metrics.get("train.loss") or {}).get("steps") or []
        step = max(steps, default=None)
    return None if step is None else int(step)


def rerun(original: RunRecord, store: RunStore, ex: Any, up_to: int | None = None) -> RunRecord:
    """Run the experiment `ex` again with the recorded command, config and seed.

    The re-run's output goes to stderr. It is recorded in `store` only (``$REPROML_MONGO_URL``
    is ignored meanwhile, so no second MongoDB observer is added). With `up_to` (an interrupted
    run) it trains to that step instead of the config's ``steps``.

    Returns:
      The new run, read back from `store`.

    Raises:
      CliError: the experiment cannot be imported or the re-run failed.
    """
    config = dict(original.config)
    if up_to is not None and "steps" in config:
        config["steps"] = up_to
    observer = _observer_for(store)
    saved_observers = list(ex.observers)
    ex.observers[:] = [observer]
    saved_url = os.environ.pop(MONGO_URL_ENV, None)
    try:
        # The experiment's own output goes to stderr: stdout is the reproduction report.
        with contextlib.redirect_stdout(sys.stderr):
            new = ex.run(
                command_name=original.raw.get("command") or None,
                config_updates=config,
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
    incomplete = incomplete_records(new)
    if incomplete:
        raise CliError(f"the re-run of run {original.run_id}: {'; '.join(incomplete)}")
    new_id = _new_run_id(new, store)
    if new_id is None:
        raise CliError(
            f"the re-run of run {original.run_id} was not recorded in {store.description}"
        )
    return store.get_run(new_id)


def _series(run: RunRecord, name: str, steps: set | None) -> dict[str, list]:
    """A metric's steps and values, only at `steps` when given."""
    series = run.metrics.get(name) or {}
    pairs = zip(series.get("steps") or [], series.get("values") or [], strict=False)
    kept = [(s, v) for s, v in pairs if steps is None or s in steps]
    return {"steps": [s for s, _ in kept], "values": [v for _, v in kept]}


def metric_report(
    original: RunRecord, new: RunRecord, interrupted: bool = False
) -> tuple[list[tuple], bool]:
    """Return table rows ``(metric, original, re-run, verdict)`` and whether all match exactly.

    The table shows final values, but a metric is ``exact`` only when its whole logged series
    (every step and value) is identical. Timing metrics are listed but not compared. For an
    `interrupted` original, only the steps it logged are compared (the re-run stops at the step
    it reached, and also evaluates there) and its missing result is not compared.
    """
    rows, exact = [], True
    if interrupted:
        rows.append(("result", original.result, new.result, "not compared (original INTERRUPTED)"))
    else:
        verdict = _verdict(original.result, new.result)
        exact &= verdict == "exact"
        rows.append(("result", original.result, new.result, verdict))
    for name in sorted(set(original.metrics) | set(new.metrics)):
        series_a = _series(original, name, None)
        only = set(series_a["steps"]) if interrupted else None
        series_b = _series(new, name, only)
        va = series_a["values"][-1] if series_a["values"] else None
        vb = series_b["values"][-1] if series_b["values"] else None
        if name in TIMING_METRICS:
            verdict = "timing, not compared"
        else:
            verdict = _verdict(va, vb)
            same_series = series_a == series_b
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


def reproduce_distributed(
    original: RunRecord, store: RunStore, repo: Path, tolerances: list | None = None
) -> int:
    """Re-launch a recorded TF_CONFIG job on a local cluster of the same shape and compare it.

    Synchronous all-reduce jobs are compared exactly; asynchronous parameter-server jobs within
    the tolerances `reproml.cluster.reproducibility` states (or `tolerances`), printed per
    metric. Returns 0 when the verdict is exact or within tolerance, else `EXIT_DIFFERS`.
    """
    from reproml.cluster.reproducibility import (
        VERDICT_EXACT,
        VERDICT_WITHIN_TOLERANCE,
        distributed_report,
        relaunch,
        rerun_command,
    )

    if not isinstance(store, FileStore):
        raise CliError(
            f"run {original.run_id} is a distributed job: its re-run is recorded by the chief in "
            "a file store; pass --store DIR"
        )
    before = {p.name for p in store.run_dirs()}
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join(filter(None, [str(repo), os.environ.get("PYTHONPATH")])),
    )
    env.pop(MONGO_URL_ENV, None)
    with tempfile.TemporaryDirectory(prefix="reproml-reproduce-") as tmp:
        command = rerun_command(
            f"experiments.{original.experiment}",
            original.config,
            Path(tmp) / "config.json",
            command_name=original.raw.get("command"),
        )
        code = relaunch(original.info, command, runs_dir=store.root, env=env, out=sys.stderr)
    if code != 0:
        raise CliError(f"the re-run of distributed run {original.run_id} failed (exit {code})")
    new_ids = [p.name for p in store.run_dirs() if p.name not in before]
    if len(new_ids) != 1:
        raise CliError(
            f"the re-run of distributed run {original.run_id} left {len(new_ids)} new runs in "
            f"{store.description}, expected the chief's one"
        )
    new = store.get_run(new_ids[0])
    lines, verdict = distributed_report(
        original.info,
        new.info,
        {**original.metrics, "result": original.result},
        {**new.metrics, "result": new.result},
        tolerances,
        original.experiment,
    )
    print(
        f"re-ran run {original.run_id} ({original.experiment}, seed {original.seed}) as run "
        f"{new.run_id} on a local cluster of the recorded shape"
    )
    print(f"code: the checkout {repo}")
    print("\n".join(lines))
    print(f"run {original.run_id} {verdict}")
    ok = verdict == VERDICT_EXACT or verdict.startswith(VERDICT_WITHIN_TOLERANCE)
    return 0 if ok else EXIT_DIFFERS


def run(args: argparse.Namespace) -> int:
    """Check, re-run and reports; returns 0 if every metric reproduced exactly, else 1."""
    from reproml.cluster.reproducibility import expectation_for, recorded_distribution

    store = open_store(args)
    original = store.get_run(args.run_id)
    tolerances = tolerances_from(args)
    if tolerances is not None:
        expectation = expectation_for(recorded_distribution(original.info))
        if expectation.exact:
            raise CliError(
                f"--rtol/--atol apply to asynchronous parameter-server jobs only; run "
                f"{original.run_id} is {expectation.describe()}"
            )
    repo = recorded_repo(original, args.repo)
    problems = dataset_problems(original) + weights_problems(original) + lineage_problems(original)
    problems += code_problems(original, store, repo)
    ex = experiment_loader(original.experiment, repo)
    problems += imported_elsewhere(repo, (original.code.get("files") or {}).keys())
    if problems and not args.force:
        raise CliError(
            f"refusing to reproduce run {original.run_id}: {'; '.join(problems)} "
            f"(checked the checkout {repo}; pass --force to run anyway)"
        )
    for problem in problems:
        print(f"warning: --force: {problem}", file=sys.stderr)
    if recorded_distribution(original.info) is not None:
        return reproduce_distributed(original, store, repo, tolerances)
    up_to = reached_step(original)
    if up_to is not None:
        print(
            f"run {original.run_id} is {original.status}: it stopped at step {up_to} (its config "
            f"says steps={original.config.get('steps')}); re-running to step {up_to} and "
            "comparing the steps it logged"
        )
    new = rerun(original, store, ex, up_to)
    rows, exact = metric_report(original, new, interrupted=up_to is not None)
    print(
        f"re-ran run {original.run_id} ({original.experiment}, seed {original.seed}) "
        f"as run {new.run_id}"
    )
    print(f"code: the checkout {repo}")
    print(render_table(("metric", f"run {original.run_id}", f"run {new.run_id}", "verdict"), rows))
    what = f"up to step {up_to}" if up_to is not None else ""
    if exact:
        print(f"run {original.run_id} reproduced exactly" + (f" {what}" if what else ""))
        return 0
    print(f"run {original.run_id} did NOT reproduce exactly" + (f" {what}" if what else ""))
    return EXIT_DIFFERS
