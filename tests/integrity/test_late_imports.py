"""A run records the code it imported *during* the run, not only what Sacred listed at its start.

Sacred lists a run's sources when the run is created; the network module chosen by name from
the config (`reproml.models.networks.get_network`) and modules imported inside functions come
later. `reproml.tracking.recording.record_late_imports` adds them when the run ends (COMPLETED,
FAILED or INTERRUPTED): their sha256, whether git tracks them, and the content of those in no commit.

The quick MNIST runs here run in a git checkout of their own (a copy of this project's code,
committed), with a new network module ``mynet.py`` that git does not track, as a researcher
trying a new network has it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import types
from pathlib import Path

import pytest

from reproml.runs.record import source_artifact_name
from reproml.tracking.recording import record_late_imports
from tests.cli.test_show import _section
from tests.integrity.project import MAIN, REPROML, TIMEOUT, git, make_project

pytestmark = pytest.mark.slow

MYNET = "reproml/models/networks/mynet.py"
BROKEN = "reproml/models/networks/broken.py"
CNN = "reproml/models/networks/cnn.py"
# Imported at the top of the training loop (reproml.train.loop): listed when the run starts.
HISTORY = "reproml/train/history.py"
BROKEN_NETWORK = '''"""A new network whose graph cannot be built: the run fails after importing it."""


def classifier(images, params, training):
    """Fails at once."""
    raise RuntimeError("broken network")
'''


@dataclasses.dataclass
class Checkout:
    """A committed copy of the project with untracked network modules, and its file store."""

    repo: Path
    runs: Path
    root: Path

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k != "REPROML_MONGO_URL"}
        env.update(
            REPROML_RUNS_DIR=str(self.runs),
            REPROML_DATA_DIR=str(self.root / "data"),  # empty: the digits fallback
            PYTHONPATH=str(self.repo),
            TF_CPP_MIN_LOG_LEVEL="3",
            PYTHONUNBUFFERED="1",
        )
        return env

    def run_mnist(self, *updates: str) -> subprocess.CompletedProcess:
        """``python -m experiments.mnist with quick UPDATES`` in the checkout."""
        return subprocess.run(
            [
                sys.executable,
                "-m",
                "experiments.mnist",
                "with",
                "quick",
                f"dataset.data_dir={self.root / 'records'}",
                "export_savedmodel=False",
                *updates,
            ],
            cwd=self.repo,
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            check=False,
        )

    def reproml(self, *args: str) -> subprocess.CompletedProcess:
        """The ``reproml`` CLI of the checkout on its file store, run from elsewhere."""
        return subprocess.run(
            [*REPROML, "--store", str(self.runs), *args],
            cwd=self.root,
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            check=False,
        )

    def info(self, run_id: str) -> dict:
        return json.loads((self.runs / run_id / "info.json").read_text())

    def run_json(self, run_id: str) -> dict:
        return json.loads((self.runs / run_id / "run.json").read_text())

    def sources(self, run_id: str) -> set[str]:
        """The files Sacred listed as the run's sources when it started."""
        return {name for name, _ in self.run_json(run_id)["experiment"]["sources"]}


@pytest.fixture(scope="module")
def checkout(tmp_path_factory) -> Checkout:
    """Run 1: quick MNIST with the cnn network; run 2: with the untracked ``mynet``; run 3:
    with the untracked ``broken`` network, which fails while the graph is built."""
    root = tmp_path_factory.mktemp("late-imports")
    repo = root / "repo"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for folder in ("reproml", "experiments", "handlers"):
        shutil.copytree(MAIN / folder, repo / folder, ignore=ignore)
    for name in ("reproml/models/networks/mynet.py", "reproml/models/networks/broken.py"):
        (repo / name).unlink(missing_ok=True)  # a colleague's own untracked file, not ours
    (repo / ".gitignore").write_text("__pycache__/\n")
    git(repo, "init", "-q", "-b", "main")
    git(repo, "config", "user.name", "Tester")
    git(repo, "config", "user.email", "tester@example.com")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "the project")
    cnn = (repo / CNN).read_text()
    (repo / MYNET).write_text(cnn.replace('"""', '"""mynet: a copy of cnn. ', 1))
    (repo / BROKEN).write_text(BROKEN_NETWORK)
    project = Checkout(repo, root / "runs", root)
    for updates, ok in (((), True), (("network=mynet",), True), (("network=broken",), False)):
        proc = project.run_mnist(*updates)
        assert (proc.returncode == 0) == ok, proc.stdout + proc.stderr
    return project


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_network_and_modules_imported_during_a_quick_mnist_run_are_recorded(checkout):
    code = checkout.info("1")["code"]
    sources = checkout.sources("1")
    assert CNN not in sources  # imported after Sacred listed the sources
    assert code["files"][CNN] == _sha256(checkout.repo / CNN)
    assert HISTORY in sources and code["files"][HISTORY] == _sha256(checkout.repo / HISTORY)
    assert MYNET not in code["files"]  # a module that is not imported is not a dependency
    assert code["untracked"] == []
    assert code["dirty"] is False
    assert not [a for a in checkout.run_json("1")["artifacts"] if a.startswith("source-")]


def test_untracked_network_chosen_by_name_is_hashed_marked_and_kept(checkout):
    code = checkout.info("2")["code"]
    assert checkout.run_json("2")["status"] == "COMPLETED"
    assert MYNET not in checkout.sources("2")
    assert code["files"][MYNET] == _sha256(checkout.repo / MYNET)
    assert code["untracked"] == [MYNET]
    assert code["dirty"] is True
    assert code["diff_artifact"] is None  # git diff HEAD never holds an untracked file
    artifact = source_artifact_name(MYNET)
    assert artifact == "source-reproml%2Fmodels%2Fnetworks%2Fmynet.py"
    assert artifact in checkout.run_json("2")["artifacts"]
    kept = checkout.runs / "2" / artifact
    assert kept.read_bytes() == (checkout.repo / MYNET).read_bytes()


def test_failed_run_records_the_untracked_network_it_imported(checkout):
    assert checkout.run_json("3")["status"] == "FAILED"
    assert "RuntimeError: broken network" in checkout.run_json("3")["fail_trace"][-1]
    code = checkout.info("3")["code"]
    assert code["files"][BROKEN] == _sha256(checkout.repo / BROKEN)
    assert code["untracked"] == [BROKEN]
    kept = checkout.runs / "3" / source_artifact_name(BROKEN)
    assert kept.read_bytes() == BROKEN_NETWORK.encode()


def test_show_lists_the_untracked_network_and_where_its_content_is(checkout):
    proc = checkout.reproml("show", "2")
    assert proc.returncode == 0, proc.stderr
    code = _section(proc.stdout, "code")
    files = len(checkout.info("2")["code"]["files"])
    assert code["files"] == f"{files} files (sha256 recorded; reproduce checks them)"
    assert code["untracked"] == f"{MYNET} (artifact {source_artifact_name(MYNET)})"
    assert source_artifact_name(MYNET) in _section(proc.stdout, "artifacts")


def test_reproduce_refuses_a_changed_late_imported_untracked_network_naming_it(checkout):
    mynet = checkout.repo / MYNET
    original = mynet.read_text()
    before = sorted(p.name for p in checkout.runs.iterdir())
    mynet.write_text(original + "# tuned since the run\n")
    try:
        proc = checkout.reproml("reproduce", "2")
    finally:
        mynet.write_text(original)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    message = proc.stderr.strip().splitlines()[-1]
    assert "refusing to reproduce run 2" in message
    assert f"files the run depended on differ: {MYNET}" in message
    assert sorted(p.name for p in checkout.runs.iterdir()) == before  # nothing was re-run


def test_unchanged_late_imports_let_the_run_reproduce_exactly(checkout):
    proc = checkout.reproml("reproduce", "2")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.splitlines()[-1] == "run 2 reproduced exactly"


# ---------------------------------------------------------------- record_late_imports itself


class _Run:
    """What `record_late_imports` uses of a Sacred run: its info, id and artifacts."""

    def __init__(self, code: dict) -> None:
        self._id = 7
        self.info = {"code": code}
        self.artifacts: dict[str, bytes] = {}

    def add_artifact(self, filename: str, name: str) -> None:
        self.artifacts[name] = Path(filename).read_bytes()


def _import_from(directory: Path, name: str, monkeypatch) -> types.ModuleType:
    """Import module `name` from `directory` (removed from sys.modules after the test)."""
    monkeypatch.syspath_prepend(str(directory))
    monkeypatch.delitem(sys.modules, name, raising=False)
    module = __import__(name)
    monkeypatch.setitem(sys.modules, name, module)
    return module


def test_recorded_files_are_not_read_again_and_installed_modules_are_left_out(
    tmp_path, monkeypatch
):
    repo = tmp_path / "repo"
    site = repo / ".venv" / "lib" / "site-packages"
    site.mkdir(parents=True)
    (repo / "seen_first.py").write_text("A = 1\n")
    (repo / "late_tracked.py").write_text("B = 2\n")
    (site / "installed_pkg.py").write_text("C = 3\n")
    git(repo, "init", "-q", "-b", "main")
    git(repo, "config", "user.name", "Tester")
    git(repo, "config", "user.email", "tester@example.com")
    git(repo, "add", "seen_first.py", "late_tracked.py")
    git(repo, "commit", "-q", "-m", "code")
    commit = git(repo, "rev-parse", "HEAD").decode().strip()
    (repo / "late_new.py").write_text("D = 4\n")
    for name in ("seen_first", "late_tracked", "late_new"):
        _import_from(repo, name, monkeypatch)
    _import_from(site, "installed_pkg", monkeypatch)
    stale = "0" * 64  # what the run recorded at its start: must not be read again
    run = _Run(
        {
            "repo": str(repo),
            "commit": commit,
            "dirty": False,
            "diff_artifact": None,
            "files": {"seen_first.py": stale},
            "untracked": [],
        }
    )
    assert record_late_imports(run) == ["late_new.py", "late_tracked.py"]
    code = run.info["code"]
    assert code["files"] == {
        "late_new.py": _sha256(repo / "late_new.py"),
        "late_tracked.py": _sha256(repo / "late_tracked.py"),
        "seen_first.py": stale,
    }
    assert code["untracked"] == ["late_new.py"] and code["dirty"] is True
    assert run.artifacts == {source_artifact_name("late_new.py"): b"D = 4\n"}
    assert record_late_imports(run) == []  # a second call finds nothing new


def test_outside_git_every_late_import_is_kept_and_a_run_without_code_is_left_alone(
    tmp_path, monkeypatch
):
    (tmp_path / "plain_late.py").write_text("E = 5\n")
    _import_from(tmp_path, "plain_late", monkeypatch)
    run = _Run(
        {
            "repo": str(tmp_path),
            "commit": None,
            "dirty": None,
            "diff_artifact": None,
            "files": {},
            "untracked": [],
        }
    )
    assert record_late_imports(run) == ["plain_late.py"]
    assert run.info["code"]["dirty"] is None and run.info["code"]["untracked"] == []
    assert run.artifacts == {source_artifact_name("plain_late.py"): b"E = 5\n"}
    unrecorded = _Run({})
    unrecorded.info = {}
    assert record_late_imports(unrecorded) == [] and unrecorded.info == {}


# ---------------------------------------------------------------- an INTERRUPTED run

SLOW = '''"""Imports the module named by the config during the run, then steps until interrupted."""

import importlib
import time

from sacred import Experiment

from reproml.tracking import experiment as rx
from reproml.train.signals import TrainingInterrupted

ex = rx.track(Experiment("slow"))


@ex.config
def config():
    module = "late_helper"  # imported by name during the run
    steps = 500  # steps of 0.1 s


@ex.main
def main(_run, module, steps):
    step = importlib.import_module(module).step
    done = 0
    try:
        for done in range(1, steps + 1):
            print(f"step {step(done)}", flush=True)
            time.sleep(0.1)
    except KeyboardInterrupt:
        raise TrainingInterrupted("SIGINT", done, "no model_dir") from None


if __name__ == "__main__":
    rx.run_commandline(ex)
'''


def test_interrupted_run_records_the_untracked_module_it_imported(tmp_path):
    project = make_project(tmp_path, track_helpers=True)
    (project.repo / "experiments" / "slow.py").write_text(SLOW)
    git(project.repo, "add", "experiments/slow.py")
    git(project.repo, "commit", "-q", "-m", "slow experiment")
    late = project.repo / "late_helper.py"
    late.write_text('"""Untracked, imported by name."""\n\n\ndef step(n):\n    return n\n')
    proc = subprocess.Popen(
        [sys.executable, "-m", "experiments.slow"],
        cwd=project.repo,
        env=project.env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        for line in proc.stdout:
            if line.strip() == "step 2":
                proc.send_signal(signal.SIGINT)
                break
        out, err = proc.communicate(timeout=TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert project.run_json("1")["status"] == "INTERRUPTED", err
    code = json.loads((project.runs / "1" / "info.json").read_text())["code"]
    assert code["files"]["late_helper.py"] == _sha256(late)
    assert code["untracked"] == ["late_helper.py"] and code["dirty"] is True
    kept = project.runs / "1" / source_artifact_name("late_helper.py")
    assert kept.read_bytes() == late.read_bytes()
