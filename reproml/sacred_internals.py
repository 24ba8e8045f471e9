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
* `list_each_repository_once`: Sacred lists one ``experiment.repositories`` entry per source
  file (`sacred.ingredient.collect_repositories`), so a run of a project of 112 modules recorded
  the same url, commit and dirty flag 112 times. `sacred.initialize.create_run` takes a run's
  experiment info from ``experiment.get_experiment_info()``; the experiment's own method is
  wrapped so that each distinct entry is listed once.
* `add_source_files`: ``Ingredient.add_source_file`` asks git about the file's repository for
  every file (`sacred.dependencies.Source.create`: a ``git.Repo`` and ``is_dirty()``, git
  processes each time): 4.1 s for a run's 112 modules on a busy 2-core machine. The files are
  added as the same `sacred.dependencies.Source` objects, git asked once per repository.

* `refuse_unknown_entries`: Sacred refuses an unknown config entry (a typo) with a
  ``ConfigAddedError`` raised inside ``Experiment._create_run`` (`sacred.initialize.Scaffold.
  _warn_about_suspicious_changes`) and prints it over several lines, with the value of an
  ingredient's entry shown as ``None``; no hook runs between that check and the error. The
  experiment's own ``_create_run`` is wrapped so that the error is replaced by reproml's one line.

State reproml keeps per run (its summary lines, artifact directory, main-end steps) is not put
on the `Run` object: `run_state` holds it beside the run.
"""

from __future__ import annotations

import json
import os
import weakref
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from sacred import Experiment
from sacred.commandline_options import CLIOption
from sacred.dependencies import Source, get_commit_if_possible, get_digest
from sacred.utils import ConfigAddedError

_STATE: weakref.WeakKeyDictionary[Any, dict[str, Any]] = weakref.WeakKeyDictionary()
_EACH_REPOSITORY_ONCE: weakref.WeakSet[Experiment] = weakref.WeakSet()
_UNKNOWN_ENTRIES_REFUSED: weakref.WeakSet[Experiment] = weakref.WeakSet()


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


def list_each_repository_once(ex: Experiment) -> None:
    """Make the runs of `ex` list each distinct repository entry once (url, commit, dirty).

    Entries that differ in any of the three are all kept, sorted, so no repository (nor a
    dirty flag that changed between two source files) is lost.
    """
    if ex in _EACH_REPOSITORY_ONCE:
        return
    sacred_info = ex.get_experiment_info

    def get_experiment_info() -> dict[str, Any]:
        info = sacred_info()
        distinct = {json.dumps(entry, sort_keys=True): entry for entry in info["repositories"]}
        info["repositories"] = [distinct[key] for key in sorted(distinct)]
        return info

    ex.get_experiment_info = get_experiment_info
    _EACH_REPOSITORY_ONCE.add(ex)


def add_source_files(ex: Experiment, paths: Iterable[str | os.PathLike]) -> None:
    """Add the ``.py`` files `paths` as sources of `ex`, as ``ex.add_source_file`` would.

    Each file gets Sacred's answer (`sacred.dependencies.get_commit_if_possible`: the url,
    commit and dirty flag of the git repository holding it, none outside one or when `ex` saves
    no git info), asked once for the files below one ``.git`` (the nearest above each file, as
    GitPython searches).
    """
    answers: dict[Path | None, tuple[Any, Any, Any]] = {}
    for path in paths:
        filename = os.path.abspath(path)
        top = _repository_of(Path(filename))
        if top not in answers:
            answers[top] = get_commit_if_possible(filename, ex.save_git_info)
        ex.sources.add(Source(filename, get_digest(filename), *answers[top]))


def _repository_of(path: Path) -> Path | None:
    """The nearest directory above `path` holding ``.git`` (a folder or a file), else None."""
    return next((d for d in path.parents if (d / ".git").exists()), None)


def refuse_unknown_entries(ex: Experiment, to_error: Callable[[str, Any, Any], Exception]) -> None:
    """Raise ``to_error(entry, config_updates, config)`` where Sacred refuses an unknown entry.

    `entry` is the full dotted name Sacred refused, `config_updates` the run's updates and
    `config` the config of the experiment or ingredient the entry was added to. Wraps `ex`'s
    ``_create_run`` once (the module docstring says why).
    """
    if ex in _UNKNOWN_ENTRIES_REFUSED:
        return
    _UNKNOWN_ENTRIES_REFUSED.add(ex)
    create_run = ex._create_run

    def create_run_naming_unknown_entries(
        command_name: Any = None, config_updates: Any = None, *args: Any, **kwargs: Any
    ) -> Any:
        try:
            return create_run(command_name, config_updates, *args, **kwargs)
        except ConfigAddedError as err:
            entry = str(next(iter(err.__conflicting_configs__)))
            raise to_error(entry, config_updates, err.__config__) from None

    ex._create_run = create_run_naming_unknown_entries
