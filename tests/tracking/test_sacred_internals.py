"""Sacred's internals reproml uses (`reproml.sacred_internals`) still work as relied on."""

from __future__ import annotations

import json
import subprocess

import pytest
from sacred import Experiment
from sacred.commandline_options import cli_option
from sacred.dependencies import Source
from sacred.observers import FileStorageObserver
from sacred.utils import ConfigAddedError

from reproml.sacred_internals import (
    add_command_line_option,
    add_source_files,
    captures_entry,
    list_each_repository_once,
    refuse_unknown_entries,
    run_id,
    run_state,
    wrap_main_function,
)


def _experiment(fail: bool = False) -> tuple[Experiment, list]:
    seen: list = []
    ex = Experiment("internals", save_git_info=False)

    @ex.main
    def main():
        if fail:
            raise RuntimeError("the main function failed")
        return 42

    @ex.pre_run_hook
    def wrap(_run):
        def wrapper(main_function):
            def wrapped(*args):
                seen.append("before")
                try:
                    return main_function(*args)
                except RuntimeError as err:
                    seen.append(f"failed: {err}")
                    raise

            return wrapped

        wrap_main_function(_run, wrapper)

    return ex, seen


def test_a_pre_run_hook_wraps_the_main_function_that_ends_either_way():
    ex, seen = _experiment()
    assert ex.run().result == 42 and seen == ["before"]
    ex, seen = _experiment(fail=True)
    with pytest.raises(RuntimeError, match="the main function failed"):
        ex.run()
    assert seen == ["before", "failed: the main function failed"]


def test_an_added_option_is_parsed_from_the_command_line_and_applied_to_the_run():
    applied = []

    @cli_option("-Z", "--zeta")
    def zeta(args, run):
        applied.append(args)

    ex, _ = _experiment()
    add_command_line_option(ex, zeta)
    add_command_line_option(ex, zeta)  # once
    assert ex.all_cli_options.count(zeta) == 1
    run = ex.run_commandline(["internals.py", "--zeta=7"])
    assert run.result == 42 and applied == ["7"]


def test_the_run_id_is_the_one_its_observer_gave(tmp_path):
    ex, _ = _experiment()
    assert run_id(ex.run()) is None  # no observer: no id
    ex.observers.append(FileStorageObserver(str(tmp_path / "runs")))
    run = ex.run()
    assert run_id(run) == "1" and (tmp_path / "runs" / "1" / "run.json").is_file()


def test_state_beside_a_run_is_not_put_on_it():
    ex, _ = _experiment()
    first, second = ex.run(), ex.run()
    run_state(first)["summary"] = ["a line"]
    assert run_state(first) == {"summary": ["a line"]} and run_state(second) == {}
    assert "summary" not in vars(first)


def _checkout(folder, *files):
    """A git checkout in `folder` whose `files` (written) are committed."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in files:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(f"NAME = {name!r}\n")
    git = ["git", "-C", str(folder), "-c", "user.name=t", "-c", "user.email=t@example.org"]
    git += ["-c", "advice.addEmbeddedRepo=false"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "files"], check=True)


def test_source_files_get_their_repository_asked_once_and_a_run_lists_each_once(tmp_path):
    project, vendored = tmp_path / "project", tmp_path / "project" / "vendored"
    _checkout(vendored, "d.py")  # a checkout inside the project's (its own commit)
    _checkout(project, "a.py", "pkg/b.py", "pkg/c.py")
    (project / "a.py").write_text("NAME = 'edited'\n")  # the project is dirty, vendored not
    (tmp_path / "loose.py").write_text("NAME = 'outside any checkout'\n")
    paths = [project / "a.py", project / "pkg/b.py", project / "pkg/c.py", vendored / "d.py"]
    paths.append(tmp_path / "loose.py")
    ex = Experiment("sources")  # saves git info
    ex.main(lambda: 42)
    add_source_files(ex, paths)
    added = {s.filename: (s.digest, s.repo, s.commit, s.is_dirty) for s in ex.sources}
    for path in paths:  # what Sacred's own add_source_file (one git look-up per file) gives
        made = Source.create(str(path), save_git_info=True)
        assert added[made.filename] == (made.digest, made.repo, made.commit, made.is_dirty)
    assert added[str(project / "a.py")][1:] != added[str(vendored / "d.py")][1:]
    assert added[str(tmp_path / "loose.py")][1:] == (None, None, None)

    list_each_repository_once(ex)
    list_each_repository_once(ex)  # once
    ex.observers.append(FileStorageObserver(str(tmp_path / "runs")))
    run = ex.run()
    listed = json.loads((tmp_path / "runs" / "1" / "run.json").read_text())["experiment"]
    repositories = listed["repositories"]
    assert repositories == run.experiment_info["repositories"]
    assert len({json.dumps(entry, sort_keys=True) for entry in repositories}) == len(repositories)
    ours = [r for r in repositories if r["url"] in (f"git:/{project}", f"git:/{vendored}")]
    assert sorted((r["url"], r["dirty"]) for r in ours) == [
        (f"git:/{project}", True),
        (f"git:/{vendored}", False),
    ]
    assert len(listed["sources"]) > len(repositories)  # this test's file and the five above


def test_no_git_info_for_source_files_of_an_experiment_that_saves_none(tmp_path):
    _checkout(tmp_path / "project", "a.py")
    ex = Experiment("sources", save_git_info=False)
    add_source_files(ex, [tmp_path / "project" / "a.py"])
    (source,) = [s for s in ex.sources if s.filename == str(tmp_path / "project" / "a.py")]
    assert (source.repo, source.commit, source.is_dirty) == (None, None, None)


def test_an_entry_a_captured_function_takes_is_accepted_though_the_config_lacks_it():
    ex = Experiment("captures", save_git_info=False)

    @ex.config
    def config():
        lr = 0.1  # noqa: F841 (read by Sacred)

    def hparams(lr, cpu_kernels=None):
        return lr, cpu_kernels

    captured = ex.capture(hparams)

    @ex.main
    def main():
        return captured()

    assert captures_entry(ex, "cpu_kernels") and captures_entry(ex, "lr")
    assert not captures_entry(ex, "momentum")
    assert ex.run(config_updates={"cpu_kernels": "eigen"}).result == (0.1, "eigen")
    with pytest.raises(ConfigAddedError):
        ex.run(config_updates={"momentum": 0.9})


def test_refuse_unknown_entries_raises_the_given_error_with_the_entry_its_value_and_config():
    ex = Experiment("typo", save_git_info=False)
    refused = []

    @ex.config
    def config():
        lr = 0.1  # noqa: F841 (read by Sacred)

    @ex.main
    def main(lr):
        return lr

    def to_error(entry, updates, scaffold_config):
        refused.append((entry, updates, dict(scaffold_config)))
        return ValueError(entry)

    refuse_unknown_entries(ex, to_error)
    refuse_unknown_entries(ex, to_error)  # once: a second call does not wrap it again
    assert ex.run(config_updates={"lr": 0.5}).result == 0.5
    with pytest.raises(ValueError, match="^lrr$"):
        ex.run(config_updates={"lrr": 0.2})
    [(entry, updates, scaffold_config)] = refused
    assert (entry, updates, scaffold_config["lr"]) == ("lrr", {"lrr": 0.2}, 0.1)
