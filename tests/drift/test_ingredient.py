"""The drift ingredient: its entries in the experiment's config, and the checks run before a command."""

import inspect

import pytest

from reproml.drift.drift_ingredient import SCENARIO_KEYS, check_drift_config
from reproml.drift.scenario import build_scenario
from reproml.errors import ConfigError, UnknownConfigEntryError


@pytest.fixture
def entries(tmp_path):
    """The ingredient's default entries, with production an existing (empty) record dir."""
    from experiments.mnist import ex

    config = ex.run("print_config", named_configs=["quick"]).config["drift"]
    (tmp_path / "production").mkdir()
    return {**config, "production": str(tmp_path / "production")}


def test_quick_keeps_the_default_scenario_entries_it_does_not_set(entries):
    assert entries["num_permutations"] == 500
    assert entries["scenario"] == {
        "data_dir": "data/mnist/quick-drift-scenario",
        "split": "test",
        "baseline_size": 128,
        "window_size": 32,
        "num_windows": 4,
        "degradations": [[1, "rotate", 60], [3, "blur", 2.5]],
        "seed": 0,
        "overwrite": False,
    }
    check_drift_config(entries, "drift")  # the defaults pass


@pytest.mark.parametrize(
    ("entry", "value", "expected"),
    [
        ("production", None, "an existing record directory"),
        ("production", "no/such/dir", "an existing record directory"),
        ("num_permutations", 0, "an int >= 1"),
        ("max_baseline", True, "an int >= 1"),
        ("num_farthest", 2.0, "an int >= 1"),
        ("window_size", 0, "None \\(timestamp windows\\) or an int >= 1"),
        ("window_seconds", 0, "a number of seconds > 0"),
        ("alpha", 1, "a false-alarm rate in \\(0, 1\\)"),
        ("alpha", float("nan"), "a false-alarm rate in \\(0, 1\\)"),
        ("baseline_dir", "no/such/dir", "None \\(the dataset records\\) or a record directory"),
        ("monitors", " ", "None \\(found by model_dir\\) or a training run id"),
    ],
)
def test_bad_drift_entries_are_refused_naming_the_entry(entries, entry, value, expected):
    with pytest.raises(ConfigError, match=f"'drift.{entry}': expected {expected}"):
        check_drift_config({**entries, entry: value}, "drift")
    check_drift_config({**entries, entry: value}, "main")  # only the drift command reads them


def test_embed_from_must_exist_for_the_embed_command(entries):
    with pytest.raises(ConfigError, match="'drift.embed_from': expected None"):
        check_drift_config({**entries, "embed_from": "no/such.npz"}, "embed")
    check_drift_config({**entries, "embed_from": entries["production"]}, "embed")


@pytest.mark.parametrize("command", ["main", "scenario", "drift"])
def test_a_mistyped_scenario_key_is_refused_naming_the_right_one(entries, command):
    # Sacred only warned ("Added new config entry"): the run recorded drift.scenario.sed, and
    # the scenario command failed in build_scenario with a TypeError traceback.
    scenario = {**entries["scenario"], "sed": 3}
    with pytest.raises(UnknownConfigEntryError) as refused:
        check_drift_config({**entries, "scenario": scenario}, command)
    assert str(refused.value) == (
        "config entry 'drift.scenario.sed': expected an entry of this experiment (did you mean "
        "'drift.scenario.seed'? print_config lists them all), got 3"
    )


def test_the_scenario_keys_are_the_data_dir_and_the_settings_of_build_scenario():
    taken = set(inspect.signature(build_scenario).parameters) - {"source", "out_dir"}
    assert set(SCENARIO_KEYS) == taken | {"data_dir"}
