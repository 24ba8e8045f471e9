"""Steps run when a run's main function ends: checks that can still fail it, and clean-ups.

Sacred 0.8.7 runs ``post_run_hooks`` only after a main function that returned, and has no hook
for one that raised. `track` installs `install_main_end` as a pre-run hook; it wraps the run's
main function (`reproml.sacred_internals.wrap_main_function`) so that every step registered with `at_main_end` runs when the main function ends, however it ends:

* it returned: each step is called with ``succeeded=True``, last registered first; a step may
  raise (e.g. the records read changed under the run), and the first such error fails the run
  (FAILED, never COMPLETED); the other steps still run;
* it raised (failure, Ctrl-C, SIGTERM): each step is called with ``succeeded=False``; an error
  of a step is logged naming the run and never replaces the run's own exception.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from reproml.errors import ReproMLError
from reproml.sacred_internals import run_id, run_state, wrap_main_function

_STEPS = "main_end_steps"  # the `run_state` key holding the steps
_log = logging.getLogger("reproml")

MainEndStep = Callable[[bool], None]


def install_main_end(run: Any) -> None:
    """Wrap `run`'s main function so that the `at_main_end` steps run when it ends."""
    steps: list[MainEndStep] = []
    run_state(run)[_STEPS] = steps

    def then_end_steps(main: Callable[..., Any]) -> Callable[..., Any]:
        def main_then_end_steps(*args: Any) -> Any:
            try:
                result = main(*args)
            except BaseException:
                _run_steps(run, steps, succeeded=False)
                raise
            _run_steps(run, steps, succeeded=True)
            return result

        return main_then_end_steps

    wrap_main_function(run, then_end_steps)


def at_main_end(run: Any, step: MainEndStep) -> None:
    """Call ``step(succeeded)`` when `run`'s main function ends (see the module docstring).

    Raises:
      ReproMLError: `run` belongs to an experiment not wired with
        `reproml.tracking.experiment.track` (nothing would run the step).
    """
    steps = run_state(run).get(_STEPS)
    if steps is None:
        raise ReproMLError(
            f"run {getattr(run, '_id', None)}: its experiment was not wired with "
            "reproml.tracking.experiment.track (ex = rx.track(Experiment(...))), so the steps "
            "that must run when it ends (releasing and re-checking the records it read) cannot"
        )
    steps.append(step)


def _run_steps(run: Any, steps: list[MainEndStep], *, succeeded: bool) -> None:
    first: BaseException | None = None
    while steps:
        step = steps.pop()
        try:
            step(succeeded)
        except BaseException as err:  # noqa: BLE001 - every step runs; the first error is raised
            if succeeded and first is None:
                first = err
            else:
                _log.error(
                    "run %s: a step at its end failed: %s: %s", run_id(run), type(err).__name__, err
                )
    if first is not None:
        raise first
