"""Every use of Sacred's internals in reproml, in one module (Sacred 0.8.7), each with its reason.

Sacred offers no public way to do these; `tests/tracking/test_sacred_internals.py` fails when a
Sacred release changes any of them, so an upgrade breaks there first, not in a user's run.

* `wrap_main_function`: Sacred runs ``post_run_hooks`` only after a main function that returned,
  and has no hook for one that raised. `sacred.run.Run.__call__` calls ``run.main_function``
  after the pre-run hooks, so a pre-run hook may replace it with a wrapper.
* `add_command_line_option`: a `CLIOption` applies to runs through
  ``Experiment.additional_cli_options`` and is parsed through ``Experiment.all_cli_options``;
  both are filled only from the constructor's ``additional_cli_options`` argument, and `track`
  gets an experiment already made.
* `captures_entry`: Sacred refuses a ``config_updates`` entry the experiment's config lacks
  (``ConfigAddedError``) unless a captured function takes it; ``Experiment.captured_functions``
  and each one's ``signature.arguments`` and ``prefix`` are what its own check reads.
* `run_id`: ``Run._id``, the id the first observer gave the run (Sacred's documentation uses it
  as ``_run._id``; there is no public name for it).

State reproml keeps per run (its summary lines, artifact directory, main-end steps) is not put
on the `Run` object: `run_state` holds it beside the run.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any

from sacred import Experiment
from sacred.commandline_options import CLIOption

_STATE: weakref.WeakKeyDictionary[Any, dict[str, Any]] = weakref.WeakKeyDictionary()


def wrap_main_function(run: Any, wrap: Callable[[Callable[..., Any]], Callable[..., Any]]) -> None:
    """Replace `run`'s main function by ``wrap(main function)`` (call from a pre-run hook)."""
    run.main_function = wrap(run.main_function)


def add_command_line_option(ex: Experiment, option: CLIOption) -> None:
    """Add `option` to `ex`'s command line and to its runs, once."""
    if option not in ex.additional_cli_options:
        ex.additional_cli_options.append(option)
        ex.all_cli_options.append(option)


def captures_entry(ex: Experiment, name: str) -> bool:
    """Whether a function `ex` captures takes its top-level config entry `name` as an argument.

    Such an entry is accepted in ``ex.run(config_updates=...)`` even when a run's recorded
    config lacks it (e.g. an entry added to the experiment's config after that run).
    """
    return any(
        not getattr(function, "prefix", None) and name in function.signature.arguments
        for function in ex.captured_functions
    )


def run_id(run: Any) -> Any:
    """Return the id of a Sacred run (None before an observer gave it one)."""
    return run._id


def run_state(run: Any) -> dict[str, Any]:
    """Return the dict reproml keeps beside `run` (created empty; gone with the run)."""
    return _STATE.setdefault(run, {})
