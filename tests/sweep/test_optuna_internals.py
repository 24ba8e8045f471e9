"""Optuna's internals reproml uses (`reproml.sweep.optuna_internals`) still work as relied on."""

from __future__ import annotations

import optuna
from optuna.trial import TrialState

from reproml.sweep.optuna_internals import trial_id


def test_a_trial_is_reopened_and_failed_through_the_storage_by_its_id():
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    storage = optuna.storages.InMemoryStorage()
    study = optuna.create_study(storage=storage)
    first, second = study.ask(), study.ask()
    ids = trial_id(first), trial_id(second)
    assert len(set(ids)) == 2 and all(isinstance(i, int) for i in ids)
    # The trial's own process reopens it by that id (reproml.sweep.trial).
    reopened = optuna.Trial(study, ids[1])
    assert reopened.number == second.number
    reopened.set_user_attr("run_id", "7")
    # A FrozenTrial read back carries the same id; a dead sweep's trial is failed by it.
    frozen = study.get_trials(deepcopy=False)[1]
    assert trial_id(frozen) == ids[1] and frozen.user_attrs == {"run_id": "7"}
    storage.set_trial_state_values(trial_id(frozen), TrialState.FAIL)
    assert [t.state for t in study.get_trials()] == [TrialState.RUNNING, TrialState.FAIL]
