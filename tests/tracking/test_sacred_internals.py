"""Sacred's internals reproml uses (`reproml.sacred_internals`) still work as relied on."""

from __future__ import annotations

import pytest
from sacred import Experiment
from sacred.commandline_options import cli_option
from sacred.observers import FileStorageObserver
from sacred.utils import ConfigAddedError

from reproml.sacred_internals import (
    add_command_line_option,
    captures_entry,
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
