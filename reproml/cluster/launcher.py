"""A local cluster for development and tests: every task a process on 127.0.0.1 with its TF_CONFIG.

``reproml launch --workers 2 --ps 1 -- python -m experiments.mnist with quick`` runs the same
command once per task, each with the ``TF_CONFIG`` that TensorFlow's cluster runtime reads (as a
Kubeflow TFJob sets it in each pod), and:

* prefixes every line a task prints with its name (``[chief:0]``, ``[worker:0]``, ``[ps:0]``,
  ``[evaluator:0]``), and optionally copies it to ``LOG_DIR/<type><index>.log``;
* stops every task when one fails (exit code != 0), on Ctrl-C or SIGTERM (SIGINT first, so a
  tracked run stops after its step and records INTERRUPTED; SIGKILL after a grace period), or
  when ``timeout`` passes;
* stops the parameter servers (SIGTERM) once the chief, the workers and the evaluator have
  exited 0: a ps serves until it is told to stop, as in Kubeflow's TFJob.

It starts processes and nothing else: the cluster protocol is TensorFlow's own (gRPC between the
tasks), so the same command runs unchanged on a real cluster that sets ``TF_CONFIG``.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import FrameType
from typing import IO, NoReturn

from reproml.checks import int_at_least
from reproml.cluster.tf_config import TF_CONFIG_ENV, ClusterTask
from reproml.errors import ConfigError

EXIT_INTERRUPTED = 130
EXIT_TIMEOUT = 124


@dataclasses.dataclass
class _Running:
    task: ClusterTask
    process: subprocess.Popen
    started: float
    reader: threading.Thread
    ended: float | None = None


def local_cluster(workers: int, ps: int = 0, host: str = "127.0.0.1") -> dict[str, list[str]]:
    """Return a cluster spec of `workers` trainers (a chief and ``workers - 1`` workers) and `ps`.

    Each task gets a free TCP port on `host`.

    Raises:
      ConfigError: ``workers < 1`` or ``ps < 0``.
    """
    int_at_least("workers", workers, expected="an int >= 1 (the chief is one of them)")
    int_at_least("ps", ps, 0)
    ports = _free_ports(host, workers + ps)
    addresses = [f"{host}:{port}" for port in ports]
    cluster = {"chief": addresses[:1]}
    if workers > 1:
        cluster["worker"] = addresses[1:workers]
    if ps:
        cluster["ps"] = addresses[workers:]
    return cluster


def cluster_tasks(cluster: Mapping[str, list[str]], evaluator: bool) -> list[ClusterTask]:
    """Return every task of `cluster` (ps first, so they listen before trainers connect)."""
    cluster = {kind: list(addresses) for kind, addresses in cluster.items()}
    tasks = [
        ClusterTask(cluster, kind, index)
        for kind in ("ps", "chief", "worker")
        for index in range(len(cluster.get(kind, [])))
    ]
    if evaluator:
        tasks.append(ClusterTask(cluster, "evaluator", 0))
    return tasks


def launch(
    command: Sequence[str],
    workers: int,
    ps: int = 0,
    *,
    evaluator: bool = False,
    timeout: float | None = None,
    grace: float = 15.0,
    log_dir: str | os.PathLike | None = None,
    env: Mapping[str, str] | None = None,
    out: IO[str] | None = None,
) -> int:
    """Run `command` once per task of a local cluster; return 0 when the job succeeded.

    Args:
      command: the program and its arguments (the same for every task).
      workers: trainers, the chief included (``2`` -> chief:0 and worker:0).
      ps: parameter servers.
      evaluator: also run an evaluator task (``TF_CONFIG`` task type ``evaluator``).
      timeout: seconds after which every task is stopped and the job fails (None: no limit).
      grace: seconds a stopped task has to exit before it is killed.
      log_dir: also write each task's output to ``log_dir/<type><index>.log``.
      env: environment of the tasks (default: this process's), ``TF_CONFIG`` added.
      out: where the prefixed lines go (default: stdout).

    Returns:
      0 when the chief, workers and evaluator exited 0; the exit code of the first task that
      failed; 130 on Ctrl-C/SIGTERM; 124 on timeout.

    Raises:
      ConfigError: an empty command, ``workers < 1`` or ``ps < 0``.
    """
    if not command:
        raise ConfigError("command", "a program to run for each task (after --)", list(command))
    out = sys.stdout if out is None else out
    cluster = local_cluster(workers, ps)
    tasks = cluster_tasks(cluster, evaluator)
    log_path = Path(log_dir) if log_dir is not None else None
    if log_path is not None:
        log_path.mkdir(parents=True, exist_ok=True)
    lock = threading.Lock()
    say = _printer(out, lock)
    say("launch", f"cluster {json.dumps(cluster)}; command {' '.join(command)}")
    running: list[_Running] = []
    restore = _sigterm_as_interrupt()
    try:
        for task in tasks:
            running.append(_start(task, command, env, out, lock, log_path))
        code = _supervise(running, timeout, say)
    except KeyboardInterrupt:
        say("launch", "interrupted: stopping every task")
        _stop(running, signal.SIGINT, grace, say)
        code = EXIT_INTERRUPTED
    finally:
        _stop(running, signal.SIGTERM, grace, say)
        for job in running:
            job.reader.join(timeout=5)
        restore()
    summary = ", ".join(
        f"{job.task.name} rc={job.process.returncode}" for job in running if job.process
    )
    say("launch", f"{'job succeeded' if code == 0 else f'job failed (exit {code})'}: {summary}")
    return code


def _supervise(
    running: list[_Running], timeout: float | None, say: Callable[[str, str], None]
) -> int:
    """Wait until the job is done or a task fails; return the launcher's exit code."""
    start = time.monotonic()
    waited = [job for job in running if job.task.task_type != "ps"]
    while True:
        for job in running:
            code = job.process.poll()
            if code is None or job.ended is not None:
                continue
            job.ended = time.monotonic()
            say("launch", f"{job.task.name} exited with {code} after {job.ended - start:.1f}s")
            if code != 0 or job.task.task_type == "ps":
                say("launch", f"{job.task.name} failed: stopping the other tasks")
                return code if code != 0 else 1
        if all(job.ended is not None for job in waited):
            return 0
        if timeout is not None and time.monotonic() - start > timeout:
            say("launch", f"timeout after {timeout:g}s: stopping every task")
            return EXIT_TIMEOUT
        time.sleep(0.2)


def _start(
    task: ClusterTask,
    command: Sequence[str],
    env: Mapping[str, str] | None,
    out: IO[str],
    lock: threading.Lock,
    log_dir: Path | None,
) -> _Running:
    task_env = dict(os.environ if env is None else env)
    task_env[TF_CONFIG_ENV] = json.dumps(task.to_json())
    task_env["PYTHONUNBUFFERED"] = "1"
    process = subprocess.Popen(
        list(command),
        env=task_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,  # its own process group: signals reach its children too
        text=True,
        encoding="utf-8",
        errors="replace",
        bufsize=1,
    )
    log_file = None if log_dir is None else log_dir / f"{task.task_type}{task.task_index}.log"
    reader = threading.Thread(
        target=_stream,
        args=(process.stdout, f"[{task.name}] ", out, lock, log_file),
        name=f"launch-{task.name}",
        daemon=True,
    )
    reader.start()
    return _Running(task=task, process=process, started=time.monotonic(), reader=reader)


def _stream(
    pipe: IO[str], prefix: str, out: IO[str], lock: threading.Lock, log_file: Path | None
) -> None:
    """Copy `pipe` line by line to `out` with `prefix` (and to `log_file`)."""
    log = open(log_file, "w", encoding="utf-8") if log_file is not None else None
    try:
        for line in pipe:
            if log is not None:
                log.write(line)
                log.flush()
            with lock:
                out.write(prefix + line if line.endswith("\n") else prefix + line + "\n")
                out.flush()
    finally:
        pipe.close()
        if log is not None:
            log.close()


def _stop(running: list[_Running], sig: int, grace: float, say: Callable[[str, str], None]) -> None:
    """Send `sig` to every task still running; kill those still running after `grace` seconds."""
    alive = [job for job in running if job.process.poll() is None]
    for job in alive:
        _signal_group(job.process, sig)
    deadline = time.monotonic() + grace
    for job in alive:
        try:
            job.process.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            say("launch", f"{job.task.name} did not stop in {grace:g}s: killing it")
            _signal_group(job.process, signal.SIGKILL)
            job.process.wait()


def _signal_group(process: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(process.pid, sig)
    except ProcessLookupError:
        pass


def _printer(out: IO[str], lock: threading.Lock) -> Callable[[str, str], None]:
    def say(prefix: str, message: str) -> None:
        with lock:
            out.write(f"[{prefix}] {message}\n")
            out.flush()

    return say


def _sigterm_as_interrupt() -> Callable[[], object]:
    """Make SIGTERM stop the launcher as Ctrl-C does (main thread only); return the undo."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None

    def interrupt(signum: int, frame: FrameType | None) -> NoReturn:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    return lambda: signal.signal(signal.SIGTERM, previous)


def _free_ports(host: str, n: int) -> list[int]:
    sockets = []
    try:
        for _ in range(n):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind((host, 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()
