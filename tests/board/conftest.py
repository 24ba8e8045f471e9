"""Fixtures of the board tests: Omniboard installed, runs of real quick experiments, boards.

One module-scoped set of runs (recorded live with ``-m`` and in a file store), one
``reproml board`` on the file store and one browser serve every browser test.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.board.requirements import (
    CHROMIUM_ARGS,
    missing,
    require_chromium,
    require_node,
    require_playwright,
)

REPO = Path(__file__).resolve().parents[2]
LIVE_DB = "live_runs"
# (module, `with` entries): every run is recorded live with -m and in the file store.
EXPERIMENTS = (
    ("experiments.mnist", ["quick", "lr=0.002"]),
    ("experiments.mnist", ["quick", "lr=0.0005", "optimizer=sgd"]),
    ("experiments.mnist_gan", ["quick"]),
    ("tests.board.toy_experiment", ["fail=True"]),  # a FAILED run, in one second
)


@pytest.fixture(scope="session")
def omniboard_script():
    """Omniboard's ``start.js``, installed by ``npm ci`` into the project's cache (once)."""
    from reproml.board.omniboard import ensure_omniboard, install_dir, start_script
    from reproml.errors import BoardError

    require_node()
    if not start_script(install_dir()).is_file() and shutil.which("npm") is None:
        missing("npm is not installed: sudo apt-get install npm")
    try:
        return ensure_omniboard(say=lambda line: None)
    except BoardError as err:
        pytest.fail(str(err), pytrace=False)


@dataclasses.dataclass
class Recorded:
    """Runs recorded at once in a file store and (live, by Sacred's -m) in a MongoDB."""

    store: Path
    live_url: str
    commands: list[tuple[list[str], int]]


def record_runs(workdir: Path, mongo_server: str) -> Recorded:
    """Run every `EXPERIMENTS` entry with ``-m`` into `LIVE_DB` and ``-F``/-R into a file store."""
    store = workdir / "runs"
    host_port = mongo_server.split("://", 1)[1].rstrip("/")
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "REPROML_RUNS_DIR": str(store),
        "TF_CPP_MIN_LOG_LEVEL": "3",
    }
    env.pop("REPROML_MONGO_URL", None)
    commands = []
    for module, entries in EXPERIMENTS:
        argv = [sys.executable, "-m", module, "-m", f"{host_port}:{LIVE_DB}"]
        if module.startswith("tests."):
            argv += ["-F", str(store)]
        argv += ["with", *entries]
        with open(workdir / "experiments.log", "ab") as log:
            code = subprocess.run(
                argv, cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT
            ).returncode
        commands.append((argv[2:], code))
    return Recorded(store, f"{mongo_server}/{LIVE_DB}", commands)


@pytest.fixture(scope="module")
def recorded(tmp_path_factory, mongo_server, omniboard_script):
    """The module's runs (real quick experiments; their statuses are whatever they got)."""
    from reproml.runs.file_store import FileStore

    workdir = tmp_path_factory.mktemp("board-runs")
    result = record_runs(workdir, mongo_server)
    runs, warnings = FileStore(result.store).list_runs()
    log = (workdir / "experiments.log").read_text(errors="replace")[-3000:]
    assert len(runs) == len(EXPERIMENTS) and not warnings, f"{result.commands}\n{warnings}\n{log}"
    return result


@pytest.fixture(scope="module")
def browser():
    """One headless Debian Chromium (Playwright drives it; it downloads no browser)."""
    require_playwright()
    executable = require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=executable, headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()
