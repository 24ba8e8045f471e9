"""What every reproml Sacred experiment shares, so that ``experiments/NAME.py`` stays a recipe.

`ReproExperiment` is a Sacred `Experiment` with tracking wired in:

* observers: the file store under ``runs/`` always; MongoDB from ``-m HOST:PORT:DB`` or
  ``REPROML_MONGO_URL``, pinged before the run starts (fails in seconds, naming the host);
  everything recorded is scrubbed of credentials (`reproml.tracking.observers`);
* config validators (`validate`) run before the run starts: a bad value fails with a
  `ConfigError` naming the entry and nothing is trained or recorded;
* every observed run records ``info["code"]`` (commit, dirty, ``code.diff``), ``pip freeze``
  and ``info["run_dir"]``; captured output is filtered (`reproml.tracking.output`);
* SIGTERM is handled like Ctrl-C (Sacred records INTERRUPTED).

The helpers below are the steps of a command: `ensure_records` (serialize if missing),
`train_and_evaluate` (metrics to Sacred, stop on signals, resumable), `add_file_artifact`,
`record_tensorboard`, `print_run_summary`.
"""

from __future__ import annotations

import functools
import logging
import os
import sys
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from sacred import SETTINGS, Experiment
from sacred.dependencies import gather_sources_and_dependencies
from sacred.utils import SacredError

from reproml.errors import ConfigError, ReproMLError
from reproml.records.manifest import MANIFEST_NAME, Manifest, load_manifest
from reproml.runs.scrub import install_log_scrubbing, register_env_secrets
from reproml.tracking.hooks import ProgressBarHook, SacredMetricsHook, log_eval_metrics
from reproml.tracking.observers import (
    GuardedObserver,
    file_store_observer,
    is_file_store,
    mongo_observer_for,
    mongo_target_from_env,
    mongo_target_from_flag,
)
from reproml.tracking.output import filter_captured_output
from reproml.tracking.record import (
    artifact_dir,
    record_code,
    record_dataset,
    record_environment,
)
from reproml.tracking.signals import TrainingInterrupted, sigterm_as_interrupt, stop_on_signals

# "sys" capture: Python-level stdout/stderr only. "fd" capture runs `tee` subprocesses that
# also get Ctrl-C and would take TensorFlow's C++ log lines too.
SETTINGS.CAPTURE_MODE = "sys"
REPO_DIR = Path(__file__).resolve().parents[2]
MONGO_FLAG = "--mongo_db"
_log = logging.getLogger("reproml")


# ----------------------------------------------------------------------------- errors


@functools.cache
def _reported_class(cls: type) -> type:
    return type(
        cls.__name__,
        (cls, SacredError),
        {
            "print_traceback": False,
            "filter_traceback": "always",
            "print_usage": False,
            "__module__": cls.__module__,
        },
    )


def user_facing(err: ReproMLError) -> ReproMLError:
    """Return `err` as the same error type that Sacred's command line prints without traceback."""
    cls = _reported_class(type(err))
    new = cls.__new__(cls, *err.args)
    new.args = err.args
    new.__dict__.update(err.__dict__)
    return new


# ------------------------------------------------------------------------ validators


def check_positive_int(config: Mapping[str, Any], *entries: str) -> None:
    """Raise ConfigError naming the first of `entries` that is not an int >= 1."""
    for entry in entries:
        value = config[entry]
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(entry, "an int >= 1", value)


def check_positive_number(config: Mapping[str, Any], *entries: str) -> None:
    """Raise ConfigError naming the first of `entries` that is not a number > 0."""
    for entry in entries:
        value = config[entry]
        if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
            raise ConfigError(entry, "a number > 0", value)


def check_choice(config: Mapping[str, Any], entry: str, choices: Iterable[Any]) -> None:
    """Raise ConfigError when ``config[entry]`` is not one of `choices`."""
    choices = list(choices)
    if config[entry] not in choices:
        raise ConfigError(entry, f"one of {choices}", config[entry])


def check_existing_path(config: Mapping[str, Any], entry: str, allow_none: bool = True) -> None:
    """Raise ConfigError when ``config[entry]`` is not an existing file or directory."""
    value = config[entry]
    if value is None and allow_none:
        return
    if not isinstance(value, str | os.PathLike) or not Path(value).expanduser().exists():
        raise ConfigError(entry, "an existing file or directory", value)


# ------------------------------------------------------------------------ experiment


def _record_run(_run: Any, record_code_state: bool) -> None:
    """Pre-run hook: ``info["run_dir"]``, and the code state and pip freeze."""
    if _run.unobserved or not _run.observers:
        return
    stores = [obs for obs in _run.observers if is_file_store(obs)]
    if stores and getattr(stores[0], "dir", None):
        _run.info["run_dir"] = str(Path(stores[0].dir).resolve())
    if record_code_state:
        record_code(_run, REPO_DIR)
        record_environment(_run)


class ReproExperiment(Experiment):
    """A Sacred experiment recorded by reproml's observers (see the module docstring).

    Args:
      name: the experiment name (shown in Omniboard).
      base_dir: the directory whose imported modules Sacred stores as sources
        (default: the repository root, so ``reproml/`` is stored with each run).
      record_code_state: record the git diff and pip freeze of every observed run.
    """

    def __init__(
        self, name: str, base_dir: str | os.PathLike | None = None, record_code_state: bool = True
    ) -> None:
        super().__init__(name, base_dir=str(base_dir or REPO_DIR))
        # Sacred takes the main file, docstring and sources from its caller's globals, which
        # here would be this module: take them from the experiment file instead.
        self._experiment_globals = sys._getframe(1).f_globals
        self.doc = self._experiment_globals.get("__doc__", "")
        self._gather_sources()
        logging.getLogger("tensorflow").setLevel(logging.ERROR)
        install_log_scrubbing()
        self.captured_out_filter = filter_captured_output
        self.validators: list[Callable[[Mapping[str, Any]], None]] = []
        self.record_code_state = record_code_state
        validators = self.validators

        def run_validators(config, command_name, logger):
            for validator in validators:
                validator(config)
            return {}

        self.config_hook(run_validators)
        record_code_state = self.record_code_state

        def record_run(_run):
            _record_run(_run, record_code_state)

        self.pre_run_hook(record_run)

    def _gather_sources(self) -> None:
        self.mainfile, self.sources, self.dependencies = gather_sources_and_dependencies(
            self._experiment_globals, self.save_git_info, self.base_dir
        )

    def validate(self, func: Callable[[Mapping[str, Any]], None]) -> Callable:
        """Register `func(config)` (decorator); it raises ConfigError on a bad value."""
        self.validators.append(func)
        return func

    def run(self, *args: Any, **kwargs: Any) -> Any:
        """Run a command like `sacred.Experiment.run`; SIGTERM counts as Ctrl-C meanwhile."""
        with sigterm_as_interrupt():
            return super().run(*args, **kwargs)

    def _create_run(
        self,
        command_name=None,
        config_updates=None,
        named_configs=(),
        info=None,
        meta_info=None,
        options=None,
    ):
        options = dict(options or {})
        mongo_flag = options.pop(MONGO_FLAG, None)
        # Modules imported since the experiment was defined (e.g. handlers) are sources too.
        self._gather_sources()
        try:
            register_env_secrets()
            run = super()._create_run(
                command_name, config_updates, named_configs, info, meta_info, options
            )
            run.meta_info["options"][MONGO_FLAG] = mongo_flag
            if not run.unobserved:
                self._attach_observers(run, mongo_flag)
        except ReproMLError as err:
            raise user_facing(err) from None
        return run

    @staticmethod
    def _attach_observers(run: Any, mongo_flag: str | None) -> None:
        observers = [
            obs if isinstance(obs, GuardedObserver) else GuardedObserver(obs, type(obs).__name__)
            for obs in run.observers
        ]
        if not any(is_file_store(obs) for obs in observers):
            observers.append(file_store_observer())
        targets = []
        if mongo_flag:
            try:
                targets.append(mongo_target_from_flag(mongo_flag))
            except ValueError as err:
                raise ConfigError(MONGO_FLAG, "DB, HOST:PORT or HOST:PORT:DB", mongo_flag) from err
        env_target = mongo_target_from_env()
        if env_target is not None:
            targets.append(env_target)
        for target in targets:
            observers.append(mongo_observer_for(target))
        run.observers = observers


# ------------------------------------------------------------------------ run steps


def model_dir_for(_run: Any, model_dir: str | None) -> str:
    """Return `model_dir`, or ``<run dir>/model`` when it is None (a temp dir if unobserved)."""
    if model_dir:
        return str(Path(model_dir).expanduser().resolve())
    run_dir = _run.info.get("run_dir")
    if run_dir:
        return str(Path(run_dir) / "model")
    return tempfile.mkdtemp(prefix="reproml-model-")


def ensure_records(record_dir: str | os.PathLike, serialize: Callable[[], Manifest]) -> Manifest:
    """Return the manifest of `record_dir`, calling `serialize()` first if it has none."""
    if (Path(record_dir) / MANIFEST_NAME).is_file():
        return load_manifest(record_dir)
    _log.info("no records in %s yet: serializing", record_dir)
    return serialize()


def serialize_and_record(
    _run: Any, record_dir: str | os.PathLike, serialize: Callable[[], Manifest], name: str
) -> str:
    """The `serialize` command of an experiment: records if missing, recorded in the run.

    Returns:
      The dataset fingerprint (also printed, with the record directory).
    """
    manifest = ensure_records(record_dir, serialize)
    record_dataset(_run, record_dir, name)
    print(f"{record_dir}: {manifest.fingerprint}")
    return manifest.fingerprint


def train_and_evaluate(
    _run: Any,
    estimator: Any,
    train_input_fn: Callable,
    eval_input_fn: Callable,
    *,
    steps: int,
    eval_every: int,
    log_every: int,
    eval_steps: int | None = None,
    after_evaluation: Callable[[int, dict], None] | None = None,
) -> dict[str, Any]:
    """Train to `steps` (resuming from `estimator.model_dir`), evaluating every `eval_every`.

    Logs ``train.loss`` / ``train.steps_per_sec`` every `log_every` steps and every scalar
    eval metric as ``eval.<name>``. Ctrl-C / SIGTERM stop after the current step; the
    checkpoint of that step is saved and `TrainingInterrupted` is raised (Sacred records
    INTERRUPTED). Running again with the same model_dir continues to `steps`.

    Args:
      _run: the Sacred run.
      estimator: the Estimator (its model_dir holds checkpoints and TensorBoard events).
      train_input_fn: repeats forever (training stops by step count).
      eval_input_fn: one pass over the eval split (or use `eval_steps`).
      steps: the global step to train to.
      eval_every: train steps between evaluations.
      log_every: train steps between metric logs.
      eval_steps: evaluation batches (None: until `eval_input_fn` is exhausted).
      after_evaluation: called with ``(step, metrics)`` after each evaluation.

    Returns:
      The metrics of the last evaluation.
    """
    start = estimator.latest_checkpoint()
    done = 0 if start is None else int(start.rsplit("-", 1)[-1])
    if done:
        _log.info("resuming from %s (step %d of %d)", start, done, steps)
        _run.info["resumed_from_step"] = done
    targets = [t for t in range(eval_every, steps, eval_every) if t > done] + [steps]
    metrics: dict[str, Any] = {}
    progress = ProgressBarHook(total=steps, initial=done)
    try:
        for target in targets:
            with stop_on_signals() as stopper:
                if target > done:
                    estimator.train(
                        train_input_fn,
                        max_steps=target,
                        hooks=[SacredMetricsHook(_run, log_every), stopper.hook, progress],
                    )
            if stopper.received is not None:
                raise TrainingInterrupted(
                    stopper.signal_name, stopper.hook.last_step, estimator.model_dir
                )
            metrics = dict(estimator.evaluate(eval_input_fn, steps=eval_steps))
            step = int(metrics.get("global_step", target))
            done = step
            log_eval_metrics(_run, metrics, step)
            if after_evaluation is not None:
                after_evaluation(step, metrics)
    finally:
        progress.close()
    return metrics


def add_file_artifact(_run: Any, path: str | os.PathLike, name: str | None = None) -> None:
    """Add the file at `path` to the run as an artifact called `name` (default: its file name)."""
    _run.add_artifact(str(path), name=name or Path(path).name)


def new_artifact_path(_run: Any, name: str) -> Path:
    """Return a path in this run's temp artifact directory (write there, then add it)."""
    return artifact_dir(_run) / name


def record_tensorboard(_run: Any, model_dir: str) -> None:
    """Record ``info["model_dir"]`` and ``info["tensorboard"]`` (the command to open it)."""
    _run.info["model_dir"] = model_dir
    _run.info["tensorboard"] = f"tensorboard --logdir {model_dir}"


def print_run_summary(_run: Any, result_name: str, result: Any) -> None:
    """Print the result, where the run is stored, and how to open TensorBoard and Omniboard."""
    lines = [f"{result_name}: {result}"]
    run_dir = _run.info.get("run_dir")
    if run_dir:
        lines.append(f"run {_run._id} recorded in {run_dir} (config.json, run.json, metrics.json)")
    if "tensorboard" in _run.info:
        lines.append(f"TensorBoard: {_run.info['tensorboard']}")
    mongo = [obs.name for obs in _run.observers if not is_file_store(obs)]
    if mongo:
        lines.append(
            f"Omniboard: the run is in {', '.join(mongo)}; open it with "
            "`omniboard -m HOST:PORT:DB` (see docs/omniboard.md)"
        )
    else:
        lines.append(
            "Omniboard: run with `-m HOST:PORT:DB` or REPROML_MONGO_URL to record in MongoDB, "
            "then `omniboard -m HOST:PORT:DB` (see docs/omniboard.md)"
        )
    print("\n".join(lines), file=sys.stdout, flush=True)


def first_examples(input_fn: Callable, count: int) -> tuple[Any, Any]:
    """Return the first `count` (features, labels) of `input_fn`'s dataset as NumPy arrays."""
    import numpy as np
    import tensorflow as tf

    dataset = input_fn().unbatch().take(count).batch(count)
    for features, labels in tf.data.Dataset.as_numpy_iterator(dataset):
        return features, np.asarray(labels)
    raise ConfigError("eval split", f"at least 1 example (asked for {count})", 0)


def split_sizes_limited(sizes: Mapping[str, int], limit: int | None) -> dict[str, int]:
    """Return `sizes` with every split capped at `limit` (None: unchanged)."""
    return {k: (v if limit is None else min(v, limit)) for k, v in sizes.items()}


__all__: Sequence[str] = (
    "ReproExperiment",
    "add_file_artifact",
    "check_choice",
    "check_existing_path",
    "check_positive_int",
    "check_positive_number",
    "ensure_records",
    "first_examples",
    "model_dir_for",
    "new_artifact_path",
    "print_run_summary",
    "record_tensorboard",
    "split_sizes_limited",
    "train_and_evaluate",
    "user_facing",
)
