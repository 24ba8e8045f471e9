"""A tiny tracked project in a temp git checkout, run as a user runs it (a subprocess).

`make_project` writes ``experiments/tiny.py`` (a Sacred experiment wired with `rx.track`, whose
numbers depend only on the config and the seed), the module ``helpers.py`` it imports (left
untracked unless asked), toy records the run records as its dataset, and commits. `run_tiny`
runs ``python -m experiments.tiny ...`` in the checkout and `reproml` runs the CLI, both with
``REPROML_RUNS_DIR`` set, ``PYTHONPATH`` holding only the reproml checkout (so the project's
own modules are found from the working directory, as for a user) and TensorFlow's C++ start-up
lines silenced.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

from tests.cli.toy_experiments import write_toy_records

MAIN = Path(__file__).resolve().parents[2]  # the reproml checkout (on PYTHONPATH)
REPROML = [sys.executable, "-m", "reproml.cli.main"]
TIMEOUT = 180

EXPERIMENT = '''"""A tiny tracked experiment: a seeded loss curve, optionally slow, filling a disk."""

import os
import random
import time
from pathlib import Path

from sacred import Experiment

import helpers
from reproml.tracking import experiment as rx
from reproml.tracking.recording import record_dataset
from reproml.train.signals import TrainingInterrupted

ex = rx.track(Experiment("tiny"))


@ex.config
def config():
    steps = 6  # training steps
    sleep = 0.0  # seconds per step (to signal a run mid-way)
    record_dir = ""  # toy records recorded as the dataset
    fill = ""  # a directory to fill up before the last artifact is added
    fill_leave_kb = 0  # room left on that disk once it is full
    artifact_kb = 0  # size of the artifact "weights.bin" added at the end (0: none)
    data_url = ""  # free text: where data would come from
    mongo_url = ""  # free text: a database URL


@ex.main
def main(_run, _seed, steps, sleep, record_dir, fill, fill_leave_kb, artifact_kb, data_url, mongo_url):
    if record_dir:
        record_dataset(_run, record_dir, "toy")
    print(f"data from {data_url}, db {mongo_url}", flush=True)
    rng = random.Random(_seed)
    loss, done = 1.0, 0
    try:
        for step in range(1, steps + 1):
            loss = helpers.update(loss, rng.random())
            _run.log_scalar("train.loss", loss, step)
            done = step
            print(f"step {step}", flush=True)
            time.sleep(sleep)
    except KeyboardInterrupt:
        _run.info["stopped_at_step"] = done
        raise TrainingInterrupted("SIGINT", done, "no model_dir") from None
    _run.log_scalar("eval.accuracy", 1.0 - loss / 2, steps)
    if fill:
        helpers.fill_up(Path(fill), fill_leave_kb * 1024)
    if artifact_kb:
        path = rx.new_artifact_path(_run, "weights.bin")
        path.write_bytes(os.urandom(artifact_kb * 1024))
        rx.add_file_artifact(_run, path)
    rx.print_run_summary(_run, "loss", loss)
    return loss


if __name__ == "__main__":
    rx.run_commandline(ex)
'''

HELPERS = '''"""Imported by experiments/tiny.py (a project module git may not track)."""

import os


def update(loss, noise):
    """One "training step" of the tiny experiment."""
    return loss * 0.8 + noise * 0.01


def fill_up(directory, leave=0):
    """Write into `directory` until the disk is full, then free `leave` bytes."""
    directory.mkdir(parents=True, exist_ok=True)
    filler = directory / "filler.bin"
    with open(filler, "ab", buffering=0) as f:
        try:
            while True:
                f.write(b"x" * 4096)
        except OSError:
            pass
    os.truncate(filler, max(0, filler.stat().st_size - leave))
''' + "".join(
    f"# padding line {i:05d}: makes this source bigger than a few disk pages\n" for i in range(400)
)


@dataclasses.dataclass
class Project:
    """A temp git checkout holding the tiny experiment, and where its runs go."""

    repo: Path
    runs: Path
    record_dir: Path

    def env(self, **extra: str) -> dict[str, str]:
        """The environment of a user in this project."""
        env = {k: v for k, v in os.environ.items() if k != "REPROML_MONGO_URL"}
        env.update(
            REPROML_RUNS_DIR=str(self.runs),
            PYTHONPATH=str(MAIN),
            TF_CPP_MIN_LOG_LEVEL="3",
            PYTHONUNBUFFERED="1",
        )
        env.update(extra)
        return env

    def command(self, *args: str) -> list[str]:
        """``python -m experiments.tiny ARGS``."""
        return [sys.executable, "-m", "experiments.tiny", *args]

    def run_tiny(self, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
        """Run the experiment to its end in the checkout; return what the user saw."""
        return subprocess.run(
            self.command(*args),
            cwd=self.repo,
            env=env or self.env(),
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            check=False,
        )

    def run_until(self, line: str, sig: int, *args: str) -> subprocess.CompletedProcess:
        """Start the experiment, send `sig` once it printed `line`, and wait for it to end."""
        proc = subprocess.Popen(
            self.command(*args),
            cwd=self.repo,
            env=self.env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        watchdog = threading.Timer(TIMEOUT, proc.kill)  # never hang the test session
        watchdog.start()
        seen = []
        try:
            for out in proc.stdout:
                seen.append(out)
                if out.strip() == line:
                    proc.send_signal(sig)
                    break
            out, err = proc.communicate(timeout=TIMEOUT)
        finally:
            watchdog.cancel()
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        return subprocess.CompletedProcess(proc.args, proc.returncode, "".join(seen) + out, err)

    def reproml(self, *args: str, cwd: Path | None = None, **env: str):
        """Run the ``reproml`` CLI on this project's file store (from `cwd`, default the repo)."""
        return subprocess.run(
            [*REPROML, "--store", str(self.runs), *args],
            cwd=cwd or self.repo,
            env=self.env(**env),
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            check=False,
        )

    def run_json(self, run_id: str = "1") -> dict:
        """The run's run.json (it must be whole JSON)."""
        return json.loads((self.runs / run_id / "run.json").read_text())


def git(repo: Path, *args: str) -> bytes:
    """Run git in `repo` and return its stdout."""
    return subprocess.run(
        ["git", *args], cwd=repo, check=True, capture_output=True, timeout=60
    ).stdout


def make_project(root: Path, runs: Path | None = None, track_helpers: bool = False) -> Project:
    """Write and commit the tiny project under ``root/repo`` (see the module docstring)."""
    repo = root / "repo"
    (repo / "experiments").mkdir(parents=True)
    (repo / "experiments" / "__init__.py").write_text("")
    (repo / "experiments" / "tiny.py").write_text(EXPERIMENT)
    (repo / "helpers.py").write_text(HELPERS)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "config", "user.name", "Tester")
    git(repo, "config", "user.email", "tester@example.com")
    git(repo, "add", "experiments")
    if track_helpers:
        git(repo, "add", "helpers.py")
    git(repo, "commit", "-q", "-m", "tiny experiment")
    record_dir = root / "records"
    write_toy_records(record_dir)
    return Project(repo, runs or root / "runs", record_dir)
