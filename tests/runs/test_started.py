"""`reproml.runs.started`: how a run was started, recorded relative to its checkout, run again."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from reproml.errors import CliError
from reproml.runs.started import experiment_command, load_experiment, started_of
from reproml.sweep.trial import with_sweep_trial
from tests.doc_blocks import ROOT

PRINTS_STARTED = """
import json, sys
from pathlib import Path
from reproml.runs.started import started_from
print(json.dumps(started_from(__file__, Path(__file__).resolve().parents[1])))
"""


@pytest.fixture
def project(tmp_path):
    """A checkout ``proj/`` with a package ``studies`` holding ``exp.py``."""
    (tmp_path / "proj" / "studies").mkdir(parents=True)
    (tmp_path / "proj" / "studies" / "__init__.py").write_text("")
    (tmp_path / "proj" / "studies" / "exp.py").write_text(PRINTS_STARTED)
    return tmp_path / "proj"


def _started(argv, cwd):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(cwd)])}
    out = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


@pytest.mark.parametrize(
    ("how", "expected"),
    [
        (["studies/exp.py", "with", "lr=0.1"], {"kind": "file", "path": "studies/exp.py"}),
        (["-m", "studies.exp", "with", "lr=0.1"], {"kind": "module", "path": "studies.exp"}),
    ],
)
def test_a_file_and_a_module_are_recorded_relative_to_the_checkout(project, how, expected):
    started = _started([sys.executable, *how], project)
    assert started == {**expected, "cwd": ".", "argv": ["with", "lr=0.1"]}


def test_the_working_directory_is_recorded_relative_to_the_checkout(project):
    started = _started(
        [sys.executable, "../studies/exp.py"], project / "studies" / ".." / "studies"
    )
    assert started["cwd"] == "studies" and started["path"] == "studies/exp.py"


def test_a_record_without_started_is_the_experiments_module_it_always_was():
    assert started_of({}, "mnist") == {
        "kind": "module",
        "path": "experiments.mnist",
        "cwd": ".",
        "argv": None,
    }


def test_command_lines_of_a_file_and_a_module(tmp_path):
    assert experiment_command("experiments.mnist", "py") == ["py", "-m", "experiments.mnist"]
    assert experiment_command(str(tmp_path / "exp.py"), "py") == ["py", str(tmp_path / "exp.py")]


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (None, "the experiment file exp.py is not in"),
        ("x = 1\n", "python exp.py has no Sacred experiment named `ex`"),
        ("import not_a_module_anywhere\n", "cannot import python exp.py from"),
    ],
)
def test_an_experiment_that_cannot_be_loaded_is_one_line(tmp_path, source, message):
    if source is not None:
        (tmp_path / "exp.py").write_text(source)
    with pytest.raises(CliError, match=message.replace("`", ".")):
        load_experiment({"kind": "file", "path": "exp.py"}, Path(tmp_path))


def test_outside_a_sweep_after_evaluation_is_unchanged(monkeypatch):
    monkeypatch.delenv("REPROML_SWEEP_ID", raising=False)

    def mine(step, metrics):
        return False

    assert with_sweep_trial(object(), mine) is mine
    assert with_sweep_trial(object(), None) is None


@pytest.mark.parametrize(
    ("started", "message"),
    [
        (
            {"kind": "file", "path": "../outside.py"},
            "the recorded experiment file ../outside.py is outside",
        ),
        ({"kind": "module", "path": "os; import x"}, "is not a module name"),
    ],
)
def test_a_recorded_path_outside_the_checkout_is_never_imported(tmp_path, started, message):
    (tmp_path / "outside.py").write_text("raise SystemExit('imported')\n")
    (tmp_path / "repo").mkdir()
    with pytest.raises(CliError, match=message):
        load_experiment(started, tmp_path / "repo")
