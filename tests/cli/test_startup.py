"""Commands that do not train never import TensorFlow; a command that does work still does.

Each command runs in a subprocess whose exit hook writes the heavy modules then loaded; the
speed itself is measured in benchmarks/bench_startup.py, not asserted here.
"""

import json
import os
import subprocess
import sys
import textwrap

import pytest

from reproml import lazy
from reproml.lazy import LazyModule, import_deferred, lazy_import
from tests.quick_runs import ROOT

HEAVY = ("tensorflow", "tensorflow_gan", "tensorflow_probability", "matplotlib", "scipy", "sklearn")
DRIVER = textwrap.dedent(
    """
    import atexit, json, os, runpy, sys
    HEAVY = {heavy!r}
    def report():
        with open(os.environ["STARTUP_REPORT"], "w") as out:
            json.dump(sorted(m for m in HEAVY if m in sys.modules), out)
    atexit.register(report)
    module, *args = sys.argv[1:]
    sys.argv = [module, *args]
    runpy.run_module(module, run_name="__main__", alter_sys=True)
    """
).format(heavy=HEAVY)


def _run(tmp_path, module, *args):
    """Run ``python -m MODULE ARGS``; return (exit code, stderr + stdout, heavy modules at exit)."""
    report = tmp_path / "loaded.json"
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "STARTUP_REPORT": str(report),
        "REPROML_RUNS_DIR": str(tmp_path / "runs"),
    }
    result = subprocess.run(
        [sys.executable, "-c", DRIVER, module, *map(str, args)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    return result.returncode, result.stderr + result.stdout, json.loads(report.read_text())


@pytest.mark.parametrize(
    "argv",
    [
        ["experiments.mnist", "print_config"],
        ["experiments.mnist", "print_config", "with", "quick"],
        ["experiments.mnist", "print_named_configs"],
        ["experiments.mnist", "print_dependencies"],
        ["experiments.mnist_gan", "print_config"],
        ["experiments.mnist_gan", "print_config", "with", "wgan"],
    ],
    ids=" ".join,
)
def test_commands_that_only_read_the_config_never_import_tensorflow(tmp_path, argv):
    code, err, loaded = _run(tmp_path, *argv)
    assert code == 0, err
    assert loaded == []


def test_a_config_error_is_one_line_without_tensorflow(tmp_path):
    code, err, loaded = _run(tmp_path, "experiments.mnist", "with", "lr=-1")
    assert code != 0
    assert "ConfigError" in err and "'lr'" in err and "Traceback" not in err
    assert loaded == []
    assert not (tmp_path / "runs").exists()


def test_a_command_that_does_work_imports_tensorflow_and_records_its_modules(tmp_path):
    data_dir = tmp_path / "records"
    code, err, loaded = _run(
        tmp_path, "experiments.mnist", "serialize", "with", "quick", f"dataset.data_dir={data_dir}"
    )
    assert code == 0, err
    assert "tensorflow" in loaded
    run = json.loads((tmp_path / "runs" / "1" / "run.json").read_text())
    sources = {name for name, _ in run["experiment"]["sources"]}
    # Imported before the run was created, as when they were imported at the top: recorded.
    assert {"reproml/train/hooks.py", "reproml/records/writer.py"} <= sources
    assert {"reproml/models/classifier.py", "reproml/datasets/mnist.py"} <= sources
    # Every source is of this checkout: its repository is listed once, not once per source.
    info = json.loads((tmp_path / "runs" / "1" / "info.json").read_text())
    repositories = run["experiment"]["repositories"]
    assert [r["commit"] for r in repositories] == [info["code"]["commit"]], repositories
    # The CLI reads that run, checks it against its seal, and verifies its records (sha256 of
    # every shard), without TensorFlow.
    for argv in (["runs"], ["show", "1"], ["leaderboard"], ["compare", "1", "1"], ["verify", "1"]):
        code, err, loaded = _run(tmp_path, "reproml.cli.main", "--store", "runs", *argv)
        assert (code, loaded) == (0, []), (argv, err)
    code, err, loaded = _run(tmp_path, "reproml.cli.main", "verify", data_dir)
    assert (code, loaded) == (0, []), err
    shard = sorted(data_dir.glob("train-*"))[0]
    shard.write_bytes(shard.read_bytes()[:-1] + b"\0")  # one byte changed
    code, err, loaded = _run(tmp_path, "reproml.cli.main", "verify", data_dir)
    assert code != 0 and shard.name in err and "Traceback" not in err, err
    assert loaded == []


@pytest.mark.parametrize(
    ("argv", "code", "said"),
    [
        (["--help"], 0, "usage: reproml"),
        (["--store", "runs", "runs"], 2, "holds no runs"),  # an empty store: one error line
    ],
    ids=["--help", "runs on an empty store"],
)
def test_the_cli_starts_without_tensorflow(tmp_path, argv, code, said):
    (tmp_path / "runs").mkdir()
    exit_code, output, loaded = _run(tmp_path, "reproml.cli.main", *argv)
    assert (exit_code, loaded) == (code, []), output
    assert said in output and "Traceback" not in output


@pytest.fixture
def own_registry(monkeypatch):
    """An empty registry of deferred modules for this test (the session's is left alone)."""
    monkeypatch.setattr(lazy, "_DEFERRED", {})


def test_lazy_import_loads_the_module_on_first_use(tmp_path, monkeypatch, own_registry):
    (tmp_path / "startup_probe_module.py").write_text("VALUE = 42\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "startup_probe_module", raising=False)
    probe = lazy_import("startup_probe_module")
    assert isinstance(probe, LazyModule) and lazy_import("startup_probe_module") is probe
    assert "startup_probe_module" not in sys.modules and "not loaded yet" in repr(probe)
    assert probe.VALUE == 42
    assert probe.loaded and sys.modules["startup_probe_module"] is probe.load()


def test_import_deferred_loads_every_deferred_module(tmp_path, monkeypatch, own_registry):
    (tmp_path / "startup_probe_deferred.py").write_text("VALUE = 7\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "startup_probe_deferred", raising=False)
    probe = lazy_import("startup_probe_deferred")
    assert not probe.loaded
    assert import_deferred() == ["startup_probe_deferred"]
    assert probe.loaded and "startup_probe_deferred" in sys.modules


def test_lazy_import_of_a_missing_module_fails_on_first_use(own_registry):
    missing = lazy_import("reproml.no_such_module_here")
    with pytest.raises(ModuleNotFoundError, match="no_such_module_here"):
        getattr(missing, "anything")  # noqa: B009  (the attribute access is the test)
