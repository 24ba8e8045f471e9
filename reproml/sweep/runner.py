"""Run a sweep's trials, N at a time, each as its own tracked Sacred run.

`run_sweep` asks the study for trials until it holds `SweepSpec.trials` finished ones
(complete or pruned), `workers` at a time (Optuna's ``n_jobs`` threads, each waiting on one
``python -m MODULE with ...`` or ``python FILE with ...`` subprocess whose output goes to
``sweeps/<ID>/trial-<N>.log``). A trial's value is the metric its run reports (the best
checkpoint's when the run keeps one), read back from the run's file-store record.

Resuming (the same command, or ``reproml sweep resume ID``) never repeats a finished trial:
they count toward the total. A trial cut short -- its run INTERRUPTED by Ctrl-C, or left
RUNNING by a killed sweep process on this machine -- is marked failed and its parameters are
queued again, once, so the sweep still ends with the trials it asked for.
"""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

from reproml.errors import CliError, TrialFailed
from reproml.pids import pid_alive
from reproml.runs.file_store import load_run_dir
from reproml.runs.record import RunRecord
from reproml.runs.started import KIND_FILE, KIND_MODULE, experiment_command, is_file_target
from reproml.runs.started import load_experiment as _load_experiment
from reproml.sweep.optuna_internals import trial_id
from reproml.sweep.space import parse_space
from reproml.sweep.study import SweepSpec, open_storage
from reproml.sweep.trial import ENV_ID, ENV_STORAGE, ENV_TRIAL

RETRY_ATTR = "retry_of"  # the trial number a queued trial runs again
_print_lock = threading.Lock()


def reported_value(run: RunRecord, metric: str) -> float | None:
    """Return the `metric` a run reports: its best checkpoint's, else its last evaluation's."""
    best = run.info.get("best_checkpoint")
    if isinstance(best, dict) and metric in (best.get("metrics") or {}):
        return float(best["metrics"][metric])
    value = run.final_metric(f"eval.{metric}")
    return None if value is None else float(value)


def _die_with_parent() -> None:  # pragma: no cover (runs in the child before exec)
    """Have Linux send SIGTERM to the trial if the sweep process dies (no orphan trainings)."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def finished_trials(study: Any) -> list[Any]:
    """Return the complete and pruned trials of `study`."""
    from optuna.trial import TrialState

    return study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED))


def requeue_cut_short(study: Any, storage: Any) -> list[int]:
    """Fail this machine's trials left RUNNING by a dead sweep; queue cut-short trials again.

    Returns:
      The numbers of the trials queued again.
    """
    from optuna.trial import TrialState

    host = socket.gethostname()
    trials = study.get_trials(deepcopy=False)
    retried = {t.user_attrs.get(RETRY_ATTR) for t in trials}  # a finished trial is read-only
    requeued = []
    for trial in trials:
        worker = trial.user_attrs.get("worker") or {}
        if trial.state == TrialState.RUNNING:
            if worker.get("host") != host or pid_alive(int(worker.get("pid", -1))):
                continue  # another machine's, or a live sweep's
            storage.set_trial_state_values(trial_id(trial), TrialState.FAIL)
        elif not (trial.state == TrialState.FAIL and trial.user_attrs.get("interrupted")):
            continue
        if trial.number in retried:
            continue
        study.enqueue_trial(dict(trial.params), user_attrs={RETRY_ATTR: trial.number})
        requeued.append(trial.number)
    return requeued


class TrialRunner:
    """The objective: run one trial's experiment and return the metric its run reports.

    Args:
      spec: the sweep.
      location: the study's storage (passed to the trial's run).
      logs_dir: where each trial's output goes (``trial-<N>.log``).
      python: the interpreter running the experiment.
    """

    def __init__(
        self, spec: SweepSpec, location: str, logs_dir: Path, python: str = sys.executable
    ) -> None:
        self.spec, self.location, self.logs_dir, self.python = spec, location, logs_dir, python
        self.space = parse_space(spec.words)

    def command(self, values: dict[str, Any]) -> list[str]:
        """Return the trial's command line for the searched `values`."""
        updates = [*self.space.fixed, *values.items()]
        words = [*self.space.named, *(f"{name}={value!r}" for name, value in updates)]
        return [*experiment_command(self.spec.experiment, self.python), "with", *words]

    def __call__(self, trial: Any) -> float:
        """Run the trial (see the class docstring)."""
        import optuna

        values = {p.name: p.suggest(trial) for p in self.space.params}
        trial.set_user_attr("worker", {"host": socket.gethostname(), "pid": os.getpid()})
        env = {
            **os.environ,
            "REPROML_RUNS_DIR": self.spec.runs_dir,
            ENV_STORAGE: self.location,
            ENV_ID: self.spec.sweep_id,
            ENV_TRIAL: str(trial_id(trial)),
        }
        self.logs_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.logs_dir / f"trial-{trial.number}.log"
        command = self.command(values)
        with open(log_path, "w", encoding="utf-8") as log:
            log.write("$ " + " ".join(command) + "\n")
            log.flush()
            code = subprocess.run(
                command, stdout=log, stderr=subprocess.STDOUT, env=env, preexec_fn=_die_with_parent
            ).returncode
        attrs = _user_attrs(trial)
        shown = " ".join(
            f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in values.items()
        )
        run_dir = attrs.get("run_dir")
        if code != 0 or not run_dir:
            status = load_run_dir(run_dir).status if run_dir and Path(run_dir).is_dir() else None
            trial.set_user_attr("exit_code", code)
            if code < 0 or status == "INTERRUPTED":
                trial.set_user_attr("interrupted", True)
            _say(
                f"trial {trial.number} failed (exit {code}, run {status or 'not started'}): {shown}; see {log_path}"
            )
            raise TrialFailed(f"trial {trial.number} exited with {code}; see {log_path}")
        run = load_run_dir(run_dir)
        value = reported_value(run, self.spec.metric)
        if value is None:
            raise TrialFailed(
                f"trial {trial.number}: run {run.run_id} reports no {self.spec.metric}"
            )
        if attrs.get("pruned_at_step") is not None:
            _say(
                f"trial {trial.number} pruned at step {attrs['pruned_at_step']}: {self.spec.metric} {value:.4g} (run {run.run_id}) {shown}"
            )
            raise optuna.TrialPruned()
        _say(
            f"trial {trial.number} done: {self.spec.metric} {value:.4g} (run {run.run_id}) {shown}"
        )
        return value


def _user_attrs(trial: Any) -> dict[str, Any]:
    """The trial's user attributes as stored now (its run set some from another process)."""
    for frozen in trial.study.get_trials(deepcopy=False):
        if frozen.number == trial.number:
            return dict(frozen.user_attrs)
    return {}


def _say(line: str) -> None:
    with _print_lock:
        print(line, flush=True)


AUTO_PREPARE = "serialize"  # run before the trials when the experiment has this command


def experiment_commands(target: str) -> set[str]:
    """Return the command names of experiment `target` (a ``.py`` file or a module name).

    Raises:
      CliError: it cannot be imported or has no Sacred experiment ``ex``.
    """
    kind = KIND_FILE if is_file_target(target) else KIND_MODULE
    path = str(Path(target).resolve()) if kind == KIND_FILE else target
    ex = _load_experiment({"kind": kind, "path": path}, Path.cwd())
    return {name for name, _ in ex.gather_commands()}


def prepare(spec: SweepSpec, logs_dir: Path, command: str, python: str = sys.executable) -> None:
    """Run the experiment's `command` once, unobserved, before the trials (e.g. ``serialize``).

    Trials running at the same time would otherwise all write the same records at once.

    Raises:
      CliError: the command failed (the message names its log).
    """
    space = parse_space(spec.words)
    words = [*space.named, *(f"{name}={value!r}" for name, value in space.fixed)]
    argv = [
        *experiment_command(spec.experiment, python),
        command,
        "-u",
        *(["with", *words] if words else []),
    ]
    logs_dir.mkdir(parents=True, exist_ok=True)
    log_path = logs_dir / f"{command}.log"
    with open(log_path, "w", encoding="utf-8") as log:
        log.write("$ " + " ".join(argv) + "\n")
        log.flush()
        env = {**os.environ, "REPROML_RUNS_DIR": spec.runs_dir}
        code = subprocess.run(argv, stdout=log, stderr=subprocess.STDOUT, env=env).returncode
    if code != 0:
        raise CliError(f"sweep {spec.sweep_id}: `{command}` failed (exit {code}); see {log_path}")


def run_sweep(spec: SweepSpec, study: Any, location: str, workers: int, logs_dir: Path) -> int:
    """Run trials until the study holds `spec.trials` finished ones; return how many ran now.

    Raises:
      KeyboardInterrupt: Ctrl-C (the running trials record INTERRUPTED and are queued again by
        the next resume).
    """
    from optuna.study import MaxTrialsCallback
    from optuna.trial import TrialState

    requeued = requeue_cut_short(study, open_storage(location))
    if requeued:
        _say(f"sweep {spec.sweep_id}: trials {requeued} were cut short; running them again")
    remaining = spec.trials - len(finished_trials(study))
    if remaining <= 0:
        return 0
    before = len(study.get_trials(deepcopy=False))
    study.optimize(
        TrialRunner(spec, location, logs_dir),
        n_trials=remaining,
        n_jobs=max(1, min(workers, remaining)),
        catch=(TrialFailed,),
        callbacks=[MaxTrialsCallback(spec.trials, states=(TrialState.COMPLETE, TrialState.PRUNED))],
    )
    return len(study.get_trials(deepcopy=False)) - before
