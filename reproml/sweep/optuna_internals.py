"""Every use of Optuna's internals in reproml, in one module, with its reason.

`tests/sweep/test_optuna_internals.py` fails when an Optuna release changes it.

* `trial_id`: a trial's storage id (``Trial._trial_id`` / ``FrozenTrial._trial_id``). A sweep
  trial runs in its own process, which reopens the trial by that id
  (``optuna.Trial(study, trial_id)``, `reproml.sweep.trial`), and a trial left RUNNING by a dead
  sweep is failed through the storage by it. Optuna names trials publicly only by ``number``,
  which the storage does not take.
"""

from __future__ import annotations

from typing import Any


def trial_id(trial: Any) -> int:
    """Return the storage id of an Optuna `Trial` or `FrozenTrial`."""
    return int(trial._trial_id)
