"""What every reproml Sacred experiment shares, so that ``experiments/NAME.py`` stays a recipe.

An experiment is a plain Sacred `Experiment` made in its own file (so Sacred takes the main
file, docstring and sources from there), handed to `track`::

    ex = rx.track(Experiment("mnist", ingredients=[dataset]))

    @ex.config_hook                      # validators: refuse bad values before anything runs
    def check_config(config, command_name, logger):
        rx.check_positive_int(config, "batch_size")
        return {}

    if __name__ == "__main__":
        rx.run_commandline(ex)           # SIGTERM is handled like Ctrl-C (INTERRUPTED)

`track` wires reproml in through Sacred's public extension points only:

* a command-line option, ``-R/--runs_dir DIR`` (default ``$REPROML_RUNS_DIR`` or ``runs/``),
  that an option hook turns on for every run. Applied to the run before it starts, it adds the
  file store, keeps the MongoObserver Sacred's own ``-m`` flag made and adds one for
  ``REPROML_MONGO_URL``, pings every MongoDB (fails in seconds, naming the host), and wraps each
  observer in `GuardedObserver` (credentials scrubbed, a store lost mid-run named once); an
  output directory (``model_dir``, ...) inside a runs store or a record dir is
  refused there, before anything is recorded (`reproml.tracking.output_dirs`);
* a pre-run hook recording ``info["run_dir"]``, how the run was started
  (``info["started"]``, `reproml.runs.started`), the code state, ``pip freeze`` and, on a
  ``TF_CONFIG`` cluster, ``info["cluster"]``; in a `reproml sweep` trial it tags the run and
  joins it to its trial (`reproml.train.loop.start_training_run`), and the training loop
  (`reproml.train.loop.train_and_evaluate`) reports each evaluation to the study; a task that
  is not the chief records nothing
  (`reproml.cluster.is_chief`), so a distributed job is one run;
* a pre-run hook that makes the steps registered with `reproml.tracking.run_end.at_main_end`
  run when the main function ends, however it ends (a run releases and re-checks the records
  it read there, `reproml.tracking.records_read`);
* a post-run hook (and, for a FAILED or INTERRUPTED run, the same step when its main function
  raises) adding the project's modules imported during the run to the code state
  (`reproml.tracking.recording.record_late_imports`): a network chosen by name, an import inside
  a function;
* the modules of the project (the git checkout holding the experiment file) as sources, added
  as ``Experiment.add_source_file`` would, git asked once per repository
  (`reproml.sacred_internals.add_source_files`), each repository listed once in a run's
  ``experiment.repositories``, and Sacred's captured-output filter;
* a last config hook that, for every command but Sacred's own (`CONFIG_ONLY_COMMANDS`),
  imports what modules deferred with `reproml.lazy.lazy_import` (TensorFlow, the models) once
  the config is valid and before the run is created. ``print_config`` and a config error never
  load TensorFlow; a run records the same sources, and Sacred seeds TensorFlow, as if
  everything had been imported at the top.

`ReproMLError` is a `SacredError` without traceback, so every user error raised by a hook, a
command or a run prints as one line. The helpers below are the steps of a command:
`add_file_artifact`, `record_tensorboard`, `print_run_summary`, `evaluate`; training itself is
the training layer's (`reproml.train.loop.train_and_evaluate`).
"""

from __future__ import annotations

import logging
import math
import os
import sys
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from sacred import SETTINGS, Experiment
from sacred.commandline_options import cli_option
from sacred.observers import MongoObserver

from reproml.checks import int_at_least
from reproml.cluster.tf_config import cluster_task, is_chief
from reproml.errors import ConfigError
from reproml.lazy import import_deferred, lazy_import
from reproml.runs.artifact_files import add_file_artifact
from reproml.runs.code_state import imported_files
from reproml.runs.mongo import MongoTarget, target_from_env, target_from_flag
from reproml.runs.record import class_count_lines, missing_class_lines
from reproml.runs.reproducibility import TOLERANCES_INFO, Tolerance, declare_tolerances
from reproml.runs.scrub import install_log_scrubbing
from reproml.runs.started import STARTED_INFO, started_from
from reproml.sacred_internals import (
    add_command_line_option,
    add_source_files,
    list_each_repository_once,
    refuse_unknown_entries,
    run_id,
    run_state,
    wrap_main_function,
)
from reproml.tracking.observers import (
    GuardedObserver,
    file_store_observer,
    guard_sacred_mongo_observer,
    incomplete_records,
    is_file_store,
    mongo_observer_for,
    runs_dir,
)
from reproml.tracking.output import filter_captured_output
from reproml.tracking.output_dirs import check_output_dirs
from reproml.tracking.printed_commands import board_command, executable, runnable
from reproml.tracking.recording import (
    artifact_dir,
    record_code,
    record_environment,
    record_late_imports,
)
from reproml.tracking.run_end import install_main_end
from reproml.tracking.unknown_entries import unknown_entry_error
from reproml.train.loop import start_training_run
from reproml.train.signals import sigterm_as_interrupt

np = lazy_import("numpy")
tf = lazy_import("tensorflow")
estimator_hooks = lazy_import("reproml.train.hooks")  # deferred: Estimator hooks load TensorFlow

# "sys" capture: Python-level stdout/stderr only. "fd" capture runs `tee` subprocesses that
# also get Ctrl-C and would take TensorFlow's C++ log lines too.
SETTINGS.CAPTURE_MODE = "sys"
RUNS_DIR_FLAG = "--runs_dir"
MONGO_FLAG = "--mongo_db"
# Sacred's own commands only print or save the config: they never read records or load a model
# (nor TensorFlow, `reproml.lazy`).
CONFIG_ONLY_COMMANDS = frozenset(
    {"print_config", "print_dependencies", "save_config", "print_named_configs"}
)
_log = logging.getLogger("reproml")


# ------------------------------------------------------------------------ experiment


@cli_option("-R", RUNS_DIR_FLAG)
def runs_dir_option(args: str, run: Any) -> None:
    """Record the run in the file store DIR (default $REPROML_RUNS_DIR or runs/) too.

    reproml turns this option on for every run: it also pings MongoDB (-m or
    REPROML_MONGO_URL) before the run starts and guards every observer, and refuses an output
    directory inside a runs store or a record dir (`reproml.tracking.output_dirs`).
    """
    if not is_chief():  # one distributed job is one run: the chief records it
        run.unobserved = True
    if run.unobserved:
        check_output_dirs(run.config, [])
        return
    observers = []
    for observer in run.observers:
        if isinstance(observer, GuardedObserver):
            observers.append(observer)
        elif isinstance(observer, MongoObserver):  # from -m, or added to ex.observers
            observers.append(guard_sacred_mongo_observer(observer, _target_of(observer, run)))
        else:
            observers.append(GuardedObserver(observer, type(observer).__name__))
    if not any(is_file_store(obs) for obs in observers):
        observers.append(file_store_observer(args))
    check_output_dirs(run.config, [_inner(obs).basedir for obs in observers if is_file_store(obs)])
    env_target = target_from_env()
    if env_target is not None:
        observers.append(mongo_observer_for(env_target))
    run.observers = observers


def _inner(observer: Any) -> Any:
    """The observer a `GuardedObserver` wraps (or `observer` itself)."""
    return observer.observer if isinstance(observer, GuardedObserver) else observer


def _target_of(observer: MongoObserver, run: Any) -> MongoTarget:
    """Name a MongoObserver's database by its hosts (pymongo's public topology description)."""
    client = observer.runs.database.client
    hosts = ",".join(f"{h}:{p}" for h, p in client.topology_description.server_descriptions())
    source = "-m flag" if run.meta_info.get("options", {}).get(MONGO_FLAG) else "ex.observers"
    return MongoTarget(f"mongodb://{hosts}", observer.runs.database.name, source)


def _project_dir(mainfile: str | None) -> Path:
    """The git checkout holding `mainfile` (its top level), else the file's directory."""
    start = Path(mainfile or ".").resolve().parent
    for directory in (start, *start.parents):
        if (directory / ".git").exists():
            return directory
    return start


def _add_project_sources(ex: Experiment) -> None:
    """Add every imported module of the project directory as a source (once per file)."""
    known = {Path(s.filename) for s in ex.sources}
    add_source_files(ex, [path for path in imported_files(ex.base_dir) if path not in known])


def track(
    ex: Experiment,
    *,
    record_code_state: bool = True,
    tolerances: Sequence[Tolerance] | None = None,
    tolerance_caveat: str = "",
) -> Experiment:
    """Wire reproml's tracking into a Sacred experiment (see the module docstring).

    Args:
      ex: a Sacred `Experiment` made in the experiment's own file.
      record_code_state: record the git diff and pip freeze of every observed run.
      tolerances: how close each metric of a re-run of an asynchronous parameter-server job
        must be (`reproml.runs.reproducibility.Tolerance`, first match wins, one ``"*"``),
        measured on identical jobs of this experiment; recorded in every run's
        ``info["reproduce_tolerances"]``, which `reproml reproduce` applies. None: the stated
        default (`UNMEASURED`) for every metric.
      tolerance_caveat: printed with a "within tolerance" verdict (recorded with them).

    Returns:
      `ex` itself.

    Raises:
      ConfigError: malformed `tolerances` (`declare_tolerances`).
    """
    declared = None if tolerances is None else declare_tolerances(tolerances, tolerance_caveat)
    ex.base_dir = str(_project_dir(getattr(ex.mainfile, "filename", None)))
    _add_project_sources(ex)
    list_each_repository_once(ex)  # Sacred lists the repository once per source file
    refuse_unknown_entries(ex, unknown_entry_error)  # one line naming the closest entries
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    install_log_scrubbing()
    ex.captured_out_filter = filter_captured_output
    add_command_line_option(ex, runs_dir_option)

    def load_run_modules(config: dict, command_name: str, logger: Any) -> dict:
        if command_name not in CONFIG_ONLY_COMMANDS:
            import_deferred()  # TensorFlow & co. (`reproml.lazy`): sources and seed as always
            _add_project_sources(ex)
        return {}

    @ex.option_hook
    def record_everywhere(options: dict) -> None:
        flag = options.get(MONGO_FLAG)
        if flag:
            target_from_flag(flag)  # one clear line for a malformed -m, before Sacred parses it
        if not options.get(RUNS_DIR_FLAG):
            options[RUNS_DIR_FLAG] = runs_dir()
        _add_project_sources(ex)  # modules imported since (cheap: only new files)
        if load_run_modules not in ex.config_hooks:
            ex.config_hook(load_run_modules)  # the last config hook: after every validator

    @ex.pre_run_hook
    def run_steps_at_main_end(_run: Any) -> None:
        install_main_end(_run)  # first: the late-imports wrapper below sees a step's failure

    @ex.pre_run_hook
    def record_run(_run: Any) -> None:
        if _run.unobserved or not _run.observers:
            return
        stores = [obs for obs in _run.observers if is_file_store(obs)]
        if stores and getattr(stores[0], "dir", None):
            _run.info["run_dir"] = str(Path(stores[0].dir).resolve())
        task = cluster_task()
        if task is not None:
            _run.info["cluster"] = task.to_json()
        mainfile = getattr(ex.mainfile, "filename", None)
        if mainfile:  # a re-run (`reproml reproduce`) keeps the original's, given in `info`
            _run.info.setdefault(
                STARTED_INFO, started_from(Path(ex.base_dir) / mainfile, ex.base_dir)
            )
        if declared is not None:
            _run.info[TOLERANCES_INFO] = declared
        start_training_run(_run)  # a sweep trial's run is tagged now; its pruning in training
        if record_code_state:
            record_code(_run, ex.base_dir)
            record_environment(_run)
            _record_late_imports_if_it_fails(_run)

    @ex.post_run_hook
    def record_imports_of_the_run(_run: Any) -> None:
        record_late_imports(_run)  # a no-op when the run recorded no code

    return ex


def _record_late_imports_if_it_fails(run: Any) -> None:
    """Make a FAILED or INTERRUPTED run record its late imports too, before its last info update.

    Sacred runs ``post_run_hooks`` only after the main function returned, and has no hook for a
    run that raised; an interrupted run is still reproduced up to the step it reached, so its
    record must name its code as well. This pre-run step wraps the main function
    (`reproml.sacred_internals.wrap_main_function`): when it raises, the late
    imports are recorded and the exception goes on. A failure to record them is logged as an
    error naming the run; it does not replace the run's own exception.
    """

    def recording_late_imports_on_failure(main: Callable[..., Any]) -> Callable[..., Any]:
        def main_recording_late_imports_on_failure(*args: Any) -> Any:
            try:
                return main(*args)
            except BaseException:
                try:
                    record_late_imports(run)
                except Exception as err:  # noqa: BLE001 - the run's own error is the one to raise
                    _log.error(
                        "run %s: the modules imported during the run could not be recorded: %s: %s",
                        run_id(run),
                        type(err).__name__,
                        err,
                    )
                raise

        return main_recording_late_imports_on_failure

    wrap_main_function(run, recording_late_imports_on_failure)


EXIT_INCOMPLETE_RECORD = 3
SUMMARY_STATE = "summary"  # run_state key: the lines print_run_summary leaves to print


def _print_incomplete(run: Any) -> bool:
    """Print one ``error:`` line per store whose record of `run` is incomplete; say if any."""
    lines = incomplete_records(run) if run is not None else []
    for line in lines:
        print(f"error: the record of this run is incomplete: {line}", file=sys.stderr)
    return bool(lines)


def run_commandline(ex: Experiment, argv: Sequence[str] | None = None) -> Any:
    """Run Sacred's command line of `ex`, then say where the run is recorded, or that it is not.

    SIGTERM counts as Ctrl-C meanwhile (INTERRUPTED). After the run, every store it was recorded
    in is checked: when one could not write the whole record (a full disk, MongoDB lost), the
    process prints one line per such store (naming it and what is missing) and exits with
    `EXIT_INCOMPLETE_RECORD`, never with success. Otherwise it prints the run's summary
    (`print_run_summary`).
    """
    try:
        with sigterm_as_interrupt():
            run = ex.run_commandline(argv)
    except SystemExit:  # the run FAILED or was INTERRUPTED: Sacred exits non-zero
        _print_incomplete(ex.current_run)
        raise
    if _print_incomplete(run):
        sys.exit(EXIT_INCOMPLETE_RECORD)
    for line in run_summary(run):
        print(line, flush=True)
    return run


# ------------------------------------------------------------------------ validators


def check_positive_int(config: Mapping[str, Any], *entries: str) -> None:
    """Raise ConfigError naming the first of `entries` that is not an int >= 1."""
    for entry in entries:
        int_at_least(entry, config[entry])


def check_positive_number(config: Mapping[str, Any], *entries: str) -> None:
    """Raise ConfigError naming the first of `entries` that is not a finite number > 0."""
    for entry in entries:
        value = config[entry]
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(entry, "a finite number > 0", value)
        if not math.isfinite(value) or not value > 0:
            raise ConfigError(entry, "a finite number > 0", value)


def check_seed(config: Mapping[str, Any], entry: str = "seed") -> None:
    """Raise ConfigError unless ``config[entry]`` is an int in [0, 2**32) (what NumPy accepts)."""
    value = config[entry]
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**32:
        raise ConfigError(entry, "an int in [0, 2**32)", value)


def check_choice(config: Mapping[str, Any], entry: str, choices: Iterable[Any]) -> None:
    """Raise ConfigError when ``config[entry]`` is not one of `choices`."""
    choices = list(choices)
    if config[entry] not in choices:
        raise ConfigError(entry, f"one of {choices}", config[entry])


def check_optional_dir(config: Mapping[str, Any], entry: str) -> None:
    """Raise ConfigError unless `entry` is None or a non-empty directory path (not a file)."""
    value = config[entry]
    if value is None:
        return
    if not isinstance(value, str | os.PathLike) or not str(value).strip():
        raise ConfigError(entry, "None or a non-empty directory path", value)
    if Path(value).expanduser().is_file():
        raise ConfigError(entry, "a directory (it is a file)", value)


def check_existing_path(config: Mapping[str, Any], entry: str, allow_none: bool = True) -> None:
    """Raise ConfigError when ``config[entry]`` is not an existing file or directory."""
    value = config[entry]
    if value is None and allow_none:
        return
    if not isinstance(value, str | os.PathLike) or not Path(value).expanduser().exists():
        raise ConfigError(entry, "an existing file or directory", value)


# ------------------------------------------------------------------------ run steps


def model_dir_for(_run: Any, model_dir: str | None) -> str:
    """Return `model_dir`, or ``<run dir>/model`` when it is None (a temp dir if unobserved)."""
    if model_dir:
        return str(Path(model_dir).expanduser().resolve())
    run_dir = _run.info.get("run_dir")
    if run_dir:
        return str(Path(run_dir) / "model")
    return tempfile.mkdtemp(prefix="reproml-model-")


def evaluate(_run: Any, estimator: Any, eval_input_fn: Callable) -> dict[str, Any]:
    """Evaluate `estimator`'s latest checkpoint once; log every scalar as ``eval.<name>``.

    Returns:
      The metrics `Estimator.evaluate` returned (with ``global_step``, the step logged at).
    """
    metrics = dict(estimator.evaluate(eval_input_fn))
    estimator_hooks.log_eval_metrics(_run, metrics)
    return metrics


def new_artifact_path(_run: Any, name: str) -> Path:
    """Return a path in this run's temp artifact directory (write there, then add it)."""
    return artifact_dir(_run) / name


def record_tensorboard(_run: Any, model_dir: str) -> None:
    """Record ``info["model_dir"]`` and ``info["tensorboard"]`` (the command to open it)."""
    _run.info["model_dir"] = model_dir
    _run.info["tensorboard"] = f"tensorboard --logdir {model_dir}"


def print_run_summary(_run: Any, result_name: str, result: Any) -> None:
    """Print the result now; the dataset and the stores are printed once the record is complete.

    The summary names the dataset the run trained on, its examples per class of each split
    (and a warning per split that lacks a class) and, when it is a fallback (its recorded
    source has a ``reason``, e.g. MNIST missing -> scikit-learn's digits), repeats the warning.
    The lines about the stores (where the run is, how to open TensorBoard and Omniboard) are
    kept on the run and printed by `run_commandline` after the final record was written, so
    they never claim a record that a store then failed to complete.
    """
    print(f"{result_name}: {result}", file=sys.stdout, flush=True)
    lines = []
    dataset = _run.info.get("dataset")
    dataset = dataset if isinstance(dataset, Mapping) else {}
    if dataset.get("name"):
        lines.append(f"dataset: {dataset['name']} ({dataset.get('record_dir', '?')})")
    source = dataset.get("source") or {}
    if isinstance(source, Mapping) and source.get("reason"):
        # The fallback warning scrolled by long ago, among TensorFlow's lines: say it again.
        lines.append(
            f"WARNING: trained on the fallback {source.get('name', dataset.get('name'))}, not on "
            f"the data asked for: {source['reason']}"
        )
    lines += [f"examples per class, {split}: {line}" for split, line in class_count_lines(dataset)]
    lines += [
        f"boxes per class, {split}: {line}"
        for split, line in class_count_lines(dataset, entry="boxes_per_class")
    ]
    lines += missing_class_lines(dataset)
    run_dir = _run.info.get("run_dir")
    if run_dir:
        lines.append(
            f"run {run_id(_run)} recorded in {run_dir} (config.json, run.json, metrics.json)"
        )
    # Commands as the shell will find them: `make demo` does not put .venv/bin on PATH.
    if "tensorboard" in _run.info:
        lines.append(f"TensorBoard: {runnable(_run.info['tensorboard'])}")
    mongo = [obs.name for obs in _run.observers if not is_file_store(obs)]
    if mongo:
        lines.append(
            f"Browser: `{executable('reproml')} --mongo URL board` shows the runs of "
            f"{', '.join(mongo)} in Omniboard"
        )
    else:
        board = board_command(Path(run_dir).parent if run_dir else None)
        lines.append(f"Browser: `{board}` shows the runs of the file store in Omniboard")
    run_state(_run)[SUMMARY_STATE] = lines


def run_summary(run: Any) -> list[str]:
    """The lines `print_run_summary` left for `run` (printed by `run_commandline`), else []."""
    return list(run_state(run).get(SUMMARY_STATE, []))


def first_examples(input_fn: Callable, count: int) -> tuple[Any, Any]:
    """Return the first `count` (features, labels) of `input_fn`'s dataset as NumPy arrays."""
    dataset = input_fn().unbatch().take(count).batch(count)
    for features, labels in tf.data.Dataset.as_numpy_iterator(dataset):
        return features, np.asarray(labels)
    raise ConfigError("eval split", f"at least 1 example (asked for {count})", 0)


def split_sizes_limited(sizes: Mapping[str, int], limit: int | None) -> dict[str, int]:
    """Return `sizes` with every split capped at `limit` (None: unchanged): its first rows.

    Fine for rows in random order (MNIST); rows sorted by class (an image folder) would lose
    classes: use `reproml.records.subset.limit_examples` (stratified, seeded) for those.
    """
    return {k: (v if limit is None else min(v, limit)) for k, v in sizes.items()}


__all__: Sequence[str] = (
    "run_commandline",
    "track",
    "add_file_artifact",
    "check_choice",
    "check_existing_path",
    "check_positive_int",
    "check_positive_number",
    "check_seed",
    "evaluate",
    "first_examples",
    "model_dir_for",
    "new_artifact_path",
    "print_run_summary",
    "run_summary",
    "record_tensorboard",
    "split_sizes_limited",
)
