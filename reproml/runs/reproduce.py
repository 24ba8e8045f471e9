"""What reproducing a recorded run means: the checks before a re-run, and the comparison after.

`reproml reproduce RUN` (`reproml.cli.commands.reproduce`) re-runs a run the way it was started
(`reproml.runs.started`) and compares every metric: exact match or not. Before running it refuses
(unless ``--force``) when the local records' fingerprint differs from the recorded one
(`dataset_problems`), when the backbone's weights file is missing or has another sha256 than
recorded (`weights_problems`), or when the code differs from the recorded commit and
uncommitted diff (`code_problems`). A run whose record no longer matches its seal
(`reproml.runs.seal`) is refused even with ``--force`` (`refuse_tampered`).

The re-run always trains into a fresh model dir (`fresh_model_dir`): a run whose config set
``model_dir`` is re-run with ``model_dir=None`` (its own ``<run dir>/model``; on a cluster a new
shared directory), so it never resumes from, nor writes into, the original's checkpoints; the
recorded value is kept in ``info["reproduce_overrides"]``. The one-process re-run itself is
`reproml.tracking.rerun.rerun` (Sacred wiring); a distributed job is re-launched on a local
cluster of the recorded shape (`reproduce_distributed`, compared per strategy by
`reproml.runs.reproducibility`).

A classifier's CPU kernels (``config["cpu_kernels"]``, `reproml.models.cpu_kernels`) sum in
another order with each choice, so they are part of what is re-run: the re-run declares the
kernels the run declared, else those it recorded it ran (``info["cpu_kernels"]``), else (a run
recorded before either existed) None, the process's, as that run had -- never today's default
(`rerun_kernels`, `declared_kernels`). A process set to other kernels by
``TF_ENABLE_ONEDNN_OPTS`` is refused before anything runs (`kernels_problems`; with ``--force``
the re-run declares the process's kernels, recorded in ``info["reproduce_overrides"]``), and a
re-run that ran other kernels is never "reproduced exactly" (`kernels_report`).

`metric_report` compares the logged series; `environment_line` ends the verdict with the Python
version, TensorFlow and every package whose version changed between the original's
``pip-freeze.txt`` and the re-run's (`reproml.runs.environment`), or ``environment: same as
recorded``.
"""

from __future__ import annotations

import contextlib
import os
import platform
import sys
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from reproml.errors import CliError, RecordError
from reproml.models.cpu_kernels import CPU_KERNELS, ONEDNN_ENV, kernels_of_environment
from reproml.records.file_hash import file_sha256
from reproml.records.manifest import Manifest, load_manifest
from reproml.records.verify import verify
from reproml.records.whole_shards import read_order
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
from reproml.runs.record import FREEZE_ARTIFACT, TIMING_METRICS, RunRecord
from reproml.runs.reproducibility import (
    VERDICT_DIFFERS,
    VERDICT_EXACT,
    VERDICT_WITHIN_TOLERANCE,
    distributed_report,
    relaunch,
    rerun_command,
)
from reproml.runs.seal import check_run
from reproml.runs.started import load_experiment, run_cwd, started_of
from reproml.runs.stores import MONGO_URL_ENV, RunStore

EXIT_DIFFERS = 1
MODEL_DIR_ENTRY = (
    "model_dir"  # the config entry holding a run's checkpoints (reproml's experiments)
)
OVERRIDES_INFO = (
    "reproduce_overrides"  # info key: {entry: the original's value} the re-run replaced
)
CPU_KERNELS_ENTRY = "cpu_kernels"  # the classifier's config entry (reproml.models.cpu_kernels)
CPU_KERNELS_INFO = "cpu_kernels"  # info key: the kernels a classifier run ran


def load_recorded_experiment(original: RunRecord, repo: Path) -> Any:
    """Return the experiment of `original`, imported from `repo` the way the run was started.

    Raises:
      CliError: it cannot be imported or has no ``ex``.
    """
    return load_experiment(started_of(original.info, original.experiment), repo)


# Both are module attributes so tests can substitute them.
experiment_loader: Callable[[RunRecord, Path], Any] = load_recorded_experiment
code_state: Callable[[str | Path], CodeState] = current_code_state


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


def dataset_problems(original: RunRecord) -> list[str]:
    """Return why the local records differ from the run's (empty when they match).

    Compares the manifest's fingerprint with the recorded one, then recomputes every shard's
    hash (`reproml.records.verify.verify`), so a shard changed behind the manifest's back is caught.
    """
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
    return read_order_problems(original, record_dir, manifest) + [
        f"records: {problem}" for problem in verify(record_dir)
    ]


def read_order_problems(original: RunRecord, record_dir: str, manifest: Manifest) -> list[str]:
    """Return how the order input_fn would read `record_dir` in differs from the run's.

    The same shards are read in order 2 when the manifest has a record index, else in order 1
    (`reproml.records.whole_shards`, docs/inputs.md). A run records its order in
    ``info.records_read``; a run that recorded none read before order 2 existed: order 1.
    """
    entries = [
        entry
        for entry in original.info.get("records_read") or []
        if isinstance(entry, dict)
        and os.path.realpath(str(entry.get("record_dir"))) == os.path.realpath(record_dir)
    ]
    if not entries:
        return []
    recorded = entries[0].get("read_order", 1)
    splits = entries[0].get("splits") or None
    try:
        local = read_order(manifest, splits)
    except KeyError as err:
        return [f"records: {record_dir} has no split {err} the run read"]
    if local == recorded:
        return []
    return [
        f"read order differs: the run read {record_dir} in order {recorded}, it would now be "
        f"read in order {local} (order 2 needs the manifest's record index, written by "
        "write_records since read order 2; docs/inputs.md). Re-serialize the records with the "
        "run's reproml version, or --force to compare anyway"
    ]


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


def rerun_kernels(config: dict[str, Any], info: dict[str, Any]) -> str | None:
    """Return the CPU kernels a re-run declares: the run's declared, else ran, else None.

    None (the process's kernels) is what a run recorded before ``cpu_kernels`` and
    ``info["cpu_kernels"]`` existed ran with, whatever the default of new runs is now.
    """
    declared = config.get(CPU_KERNELS_ENTRY)
    if declared in CPU_KERNELS:
        return declared
    ran = info.get(CPU_KERNELS_INFO)
    return ran if ran in CPU_KERNELS else None


def kernels_problems(original: RunRecord) -> list[str]:
    """Return why this process cannot run the kernels `original` ran (``TF_ENABLE_ONEDNN_OPTS``)."""
    wanted = rerun_kernels(original.config, original.info)
    forced = kernels_of_environment()
    if wanted is None or forced is None or forced == wanted:
        return []
    value = "1" if wanted == "onednn" else "0"
    how = "ran" if original.info.get(CPU_KERNELS_INFO) == wanted else "declared"
    return [
        f"cpu kernels differ: run {original.run_id} {how} {wanted}, this process is set to run "
        f"{forced} ({ONEDNN_ENV}={os.environ[ONEDNN_ENV]}); start reproduce with "
        f"{ONEDNN_ENV}={value} (or unset)"
    ]


def declared_kernels(
    config: dict[str, Any], info: dict[str, Any], *, captured: bool, force: bool = False
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Return the re-run's config declaring the kernels to run (`rerun_kernels`), and overrides.

    Args:
      config: the recorded config.
      info: the recorded info.
      captured: whether the experiment takes a ``cpu_kernels`` entry (else its code decides
        and the config is returned as it is).
      force: ``--force``: when ``TF_ENABLE_ONEDNN_OPTS`` sets other kernels, declare those.

    Returns:
      ``(config, overrides)``: ``overrides`` is ``{"cpu_kernels": recorded value}`` when the
      re-run declares something else than the recorded config (a missing entry counts as None).
    """
    if not captured:
        return config, {}
    kernels = rerun_kernels(config, info)
    forced = kernels_of_environment()
    if force and kernels is not None and forced is not None:
        kernels = forced
    recorded = config.get(CPU_KERNELS_ENTRY)
    if CPU_KERNELS_ENTRY in config and recorded == kernels:
        return config, {}
    return {**config, CPU_KERNELS_ENTRY: kernels}, {CPU_KERNELS_ENTRY: recorded}


def kernels_report(original: RunRecord, new: RunRecord) -> tuple[str | None, bool]:
    """Return a line on the two runs' CPU kernels (None: nothing to say) and whether they match.

    Runs that ran other kernels are not the same computation: never "reproduced exactly".
    A run that recorded no kernels (before reproml recorded them) is not held against.
    """
    ran, now = original.info.get(CPU_KERNELS_INFO), new.info.get(CPU_KERNELS_INFO)
    if ran == now:
        return None, True
    if ran is None:
        return (
            f"cpu kernels: run {original.run_id} recorded none (it ran before reproml recorded "
            f"them), run {new.run_id} ran {now}",
            True,
        )
    return (
        f"cpu kernels differ: run {original.run_id} ran {ran}, run {new.run_id} ran {now} "
        "(their floating-point sums differ: not the same computation)",
        False,
    )


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
    original: RunRecord,
    store: RunStore,
    repo: Path,
    tolerances: list | None = None,
    *,
    kernels_entry: bool = False,
    force: bool = False,
) -> int:
    """Re-launch a recorded TF_CONFIG job on a local cluster of the same shape and compare it.

    Synchronous all-reduce jobs are compared exactly; asynchronous parameter-server jobs within
    the tolerances `reproml.runs.reproducibility` states (or `tolerances`), printed per
    metric. With `kernels_entry` (the experiment takes ``cpu_kernels``) the tasks declare the
    kernels the run ran (`declared_kernels`, `force` as there); a chief that ran other kernels
    is "NOT reproduced". Returns 0 when the verdict is exact or within tolerance, else
    `EXIT_DIFFERS`.
    """
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
    config, _ = declared_kernels(config, original.info, captured=kernels_entry, force=force)
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
    line, same_kernels = kernels_report(original, new)
    if line:
        print(line)
    if not same_kernels and (
        verdict == VERDICT_EXACT or verdict.startswith(VERDICT_WITHIN_TOLERANCE)
    ):
        verdict = VERDICT_DIFFERS  # other kernels: not the same computation
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
