"""`reproml reproduce RUN`: re-run a run the way it was started (`reproml.runs.started`), compare.

Every metric of the re-run is compared with the original's: exact match or not.

Before running it refuses (unless ``--force``) when the local records' fingerprint differs
from the recorded one (``manifest.json`` in the run's ``record_dir``), when the backbone's
weights file is missing or has another sha256 than recorded, or when the code differs
from the recorded commit and uncommitted diff. The new run is recorded in the same store with
``info["reproduces"]`` set to the original id.

The re-run always trains into a fresh model dir: a run whose config set ``model_dir`` is re-run
with ``model_dir=None`` (its own ``<run dir>/model``; on a cluster a new shared directory), so it
never resumes from, nor writes into, the original's checkpoints; the recorded value is kept in
``info["reproduce_overrides"]``.

The verdict ends with one line on the environment: the Python version (Sacred's
``host.python_version``), TensorFlow and every package whose version changed between the
original's ``pip-freeze.txt`` and the re-run's (`reproml.runs.environment`), or
``environment: same as recorded``.

A run whose record no longer matches its seal (`reproml.runs.seal`) is refused in one line naming
what changed, even with ``--force``: its config and metrics are not what the run recorded, so a
re-run would be compared with an edited record. ``--force`` is for a changed environment (records,
code), which the verdict can report on; an unsealed (legacy) run is reproduced as before.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import platform
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
from reproml.runs.environment import environment_differences, pip_freeze
from reproml.runs.file_store import FileStore
from reproml.runs.lineage import lineage_problems
from reproml.runs.mongo import gridfs_of
from reproml.runs.mongo_store import MongoStore
from reproml.runs.record import FREEZE_ARTIFACT, TIMING_METRICS, CliError, RunRecord
from reproml.runs.seal import check_run
from reproml.runs.started import STARTED_INFO, describe, load_experiment, run_cwd, started_of
from reproml.runs.stores import MONGO_URL_ENV, RunStore, open_store
from reproml.tracking.observers import incomplete_records

EXIT_DIFFERS = 1
MODEL_DIR_ENTRY = (
    "model_dir"  # the config entry holding a run's checkpoints (reproml's experiments)
)
OVERRIDES_INFO = (
    "reproduce_overrides"  # info key: {entry: the original's value} the re-run replaced
)


def _load_recorded_experiment(original: RunRecord, repo: Path) -> Any:
    """Return the experiment of `original`, imported from `repo` the way the run was started.

    Raises:
      CliError: it cannot be imported or has no ``ex``.
    """
    return load_experiment(started_of(original.info, original.experiment), repo)


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
experiment_loader: Callable[[RunRecord, Path], Any] = _load_recorded_experiment
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
    from reproml.runs.reproducibility import Tolerance

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
        return outside_checkout_problems(original, repo)
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


def outside_checkout_problems(original: RunRecord, repo: Path) -> list[str]:
    """Problems of a run started outside a git checkout: its recorded sources must be in `repo`.

    Without a commit, the code is checked by the sha256 of every source the run recorded
    (``info.code.files``, Sacred's sources and the modules imported later) in `repo` now.
    """
    recorded = original.code.get("files") or {}
    where = f"run {original.run_id} was started outside a git checkout ({repo})"
    if not recorded:
        return [f"{where} and recorded no source hashes to check its code against"]
    changed = changed_files(repo, recorded)
    if not changed:
        return []
    shown = ", ".join(changed[:MAX_FILES_NAMED])
    more = f" and {len(changed) - MAX_FILES_NAMED} more" if len(changed) > MAX_FILES_NAMED else ""
    return [
        f"{where} and these of its recorded sources differ there now or are gone: {shown}{more} "
        "(the recorded sources are in the run's record: `reproml show`)"
    ]


def _observer_for(store: RunStore) -> Any:
    """Return a Sacred observer recording into `store`."""
    if isinstance(store, FileStore):
        from reproml.tracking.file_store import AtomicFileStorageObserver

        return AtomicFileStorageObserver(store.root.resolve())  # the re-run runs in its cwd
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


def fresh_model_dir(
    config: dict[str, Any], command_name: str | None, new_dir: str | None = None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Return the re-run's config training into a fresh model dir, and what was replaced.

    A training run (the main command) whose config set ``model_dir`` gets `new_dir` instead
    (None: the experiment's default, ``<run dir>/model``). Commands that read a trained model
    (``evaluate``, ``export``, ...) keep it: it is their input.

    Returns:
      ``(config, overrides)``: the config to run and ``{entry: recorded value}`` (empty: none).
    """
    value = config.get(MODEL_DIR_ENTRY)
    if not value or (command_name and command_name != "main"):
        return config, {}
    return {**config, MODEL_DIR_ENTRY: new_dir}, {MODEL_DIR_ENTRY: value}


def rerun(
    original: RunRecord,
    store: RunStore,
    ex: Any,
    up_to: int | None = None,
    repo: Path | None = None,
) -> RunRecord:
    """Run the experiment `ex` again with the recorded command, config and seed.

    It runs in the directory the run was started in (``info.started.cwd`` in `repo`), so the
    config's relative paths name the same files; ``info.started`` is kept.

    The re-run's output goes to stderr. It is recorded in `store` only (``$REPROML_MONGO_URL``
    is ignored meanwhile, so no second MongoDB observer is added). With `up_to` (an interrupted
    run) it trains to that step instead of the config's ``steps``. It trains into a fresh model
    dir (`fresh_model_dir`).

    Returns:
      The new run, read back from `store`.

    Raises:
      CliError: the experiment cannot be imported or the re-run failed.
    """
    command = original.raw.get("command") or None
    config, overrides = fresh_model_dir(dict(original.config), command)
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


def _freeze_of(run: RunRecord, store: RunStore) -> str | None:
    """The run's recorded ``pip-freeze.txt`` (None when it recorded none)."""
    if FREEZE_ARTIFACT not in run.artifacts:
        return None
    return store.read_artifact(run, FREEZE_ARTIFACT).decode("utf-8", errors="replace")


def environment_line(original: RunRecord, new: RunRecord | None, store: RunStore) -> str:
    """Return ``environment: ...``: how the re-run's environment differs from the original's.

    The re-run's own ``pip-freeze.txt`` is compared when it recorded one, else ``pip freeze``
    of this interpreter; the Python versions come from the records (else this interpreter's).
    """
    recorded = _freeze_of(original, store)
    current = (_freeze_of(new, store) if new is not None else None) or (
        pip_freeze() if recorded is not None else ""
    )
    now_python = ((new.raw.get("host") or {}) if new is not None else {}).get(
        "python_version"
    ) or platform.python_version()
    differences = environment_differences(
        recorded, (original.raw.get("host") or {}).get("python_version"), current, now_python
    )
    if recorded is None:
        unknown = f"run {original.run_id} recorded no {FREEZE_ARTIFACT}: packages not compared"
        if not differences:
            return f"environment: Python as recorded; {unknown}"
        differences.append(unknown)
    if not differences:
        return "environment: same as recorded"
    return f"environment differs from run {original.run_id}'s: {'; '.join(differences)}"


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
    the tolerances `reproml.runs.reproducibility` states (or `tolerances`), printed per
    metric. Returns 0 when the verdict is exact or within tolerance, else `EXIT_DIFFERS`.
    """
    from reproml.runs.reproducibility import (
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
    command_name = original.raw.get("command") or None
    config, overrides = fresh_model_dir(dict(original.config), command_name, "")
    if overrides:  # every task must reach the job's model_dir: a new one beside the store
        config[MODEL_DIR_ENTRY] = tempfile.mkdtemp(
            prefix=f"reproduce-{original.run_id}-model-", dir=store.root.parent
        )
        print(
            f"the re-run trains into {config[MODEL_DIR_ENTRY]} (run {original.run_id} used "
            f"{overrides[MODEL_DIR_ENTRY]})",
            file=sys.stderr,
        )
    with tempfile.TemporaryDirectory(prefix="reproml-reproduce-") as tmp:
        started = started_of(original.info, original.experiment)
        target = str(repo / started["path"]) if started["kind"] == "file" else started["path"]
        command = rerun_command(
            target,
            config,
            Path(tmp) / "config.json",
            command_name=command_name,
        )
        with contextlib.chdir(run_cwd(started, repo)):  # relative config paths as recorded
            code = relaunch(
                original.info, command, runs_dir=store.root.resolve(), env=env, out=sys.stderr
            )
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
    print(environment_line(original, new, store))
    print(f"run {original.run_id} {verdict}")
    ok = verdict == VERDICT_EXACT or verdict.startswith(VERDICT_WITHIN_TOLERANCE)
    return 0 if ok else EXIT_DIFFERS


def refuse_tampered(original: RunRecord, store: RunStore) -> None:
    """Refuse to reproduce a run whose record no longer matches its seal (``--force`` or not).

    Raises:
      CliError: the record differs from its seal (the line names each changed file).
    """
    sealed = check_run(store, original, full=True)
    if sealed.tampered:
        raise CliError(
            f"refusing to reproduce run {original.run_id}: its record does not match its seal "
            f"({sealed.summary()}); --force does not apply to an edited record "
            f"(`reproml verify {original.run_id}` names every changed file)"
        )


def run(args: argparse.Namespace) -> int:
    """Check, re-run and reports; returns 0 if every metric reproduced exactly, else 1."""
    from reproml.runs.reproducibility import expectation_for, recorded_distribution

    store = open_store(args)
    original = store.get_run(args.run_id)
    refuse_tampered(original, store)
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
    ex = experiment_loader(original, repo)
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
    new = rerun(original, store, ex, up_to, repo)
    rows, exact = metric_report(original, new, interrupted=up_to is not None)
    print(
        f"re-ran run {original.run_id} ({original.experiment}, seed {original.seed}) "
        f"as run {new.run_id}"
    )
    started = started_of(original.info, original.experiment)
    how = "checkout" if original.code.get("commit") else "directory (no git; sources by sha256)"
    print(f"code: the {how} {repo}")
    print(f"started: {describe(started)} in {started.get('cwd', '.')}")
    overrides = new.info.get(OVERRIDES_INFO) or {}
    if MODEL_DIR_ENTRY in overrides:
        print(
            f"model_dir: the re-run trained in {new.info.get(MODEL_DIR_ENTRY, 'its own run dir')} "
            f"(run {original.run_id}'s {overrides[MODEL_DIR_ENTRY]} was not read nor written)"
        )
    resumed = original.info.get("resumed_from_step")
    if resumed:
        print(
            f"note: run {original.run_id} resumed from step {resumed} of the checkpoints in "
            f"{original.info.get(MODEL_DIR_ENTRY)}; the re-run trains from step 0, so a series "
            "that differs may be that resumption, not the code"
        )
    print(render_table(("metric", f"run {original.run_id}", f"run {new.run_id}", "verdict"), rows))
    print(environment_line(original, new, store))
    what = f"up to step {up_to}" if up_to is not None else ""
    if exact:
        print(f"run {original.run_id} reproduced exactly" + (f" {what}" if what else ""))
        return 0
    print(f"run {original.run_id} did NOT reproduce exactly" + (f" {what}" if what else ""))
    return EXIT_DIFFERS
