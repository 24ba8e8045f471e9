"""An experiment's declared async tolerances are recorded with each of its runs (`rx.track`)."""

from __future__ import annotations

import json

import pytest
from sacred import Experiment

from reproml.errors import ConfigError
from reproml.runs.file_store import FileStore
from reproml.runs.reproducibility import (
    TOLERANCES_INFO,
    UNMEASURED,
    Tolerance,
    async_caveat,
    async_tolerances,
)
from reproml.tracking import experiment as rx

TABLE = (Tolerance("eval.accuracy", 0.0, 0.05, measured="0.04"), UNMEASURED)


def _run_in(store, **track):
    ex = rx.track(Experiment("textures"), record_code_state=False, **track)

    @ex.main
    def main():
        return 1

    ex.run(options={"--runs_dir": str(store)})
    return FileStore(store).get_run("1")


def test_the_declared_table_is_recorded_and_read_back(tmp_path, monkeypatch):
    monkeypatch.delenv("REPROML_MONGO_URL", raising=False)
    run = _run_in(tmp_path / "runs", tolerances=TABLE, tolerance_caveat="seed-wide")
    recorded = json.loads((tmp_path / "runs" / "1" / "info.json").read_text())[TOLERANCES_INFO]
    assert recorded["tolerances"][0] == {
        "pattern": "eval.accuracy",
        "rtol": 0.0,
        "atol": 0.05,
        "measured": "0.04",
    }
    assert async_tolerances(run.experiment, run.info) == TABLE
    assert async_caveat(run.experiment, run.info) == "seed-wide"


def test_an_experiment_that_declares_none_records_none(tmp_path, monkeypatch):
    monkeypatch.delenv("REPROML_MONGO_URL", raising=False)
    run = _run_in(tmp_path / "runs")
    assert TOLERANCES_INFO not in run.info
    assert async_tolerances(run.experiment, run.info) == (UNMEASURED,)


def test_a_bad_table_fails_when_the_experiment_is_made(tmp_path):
    with pytest.raises(ConfigError, match="'tolerances': expected a table ending with a '\\*'"):
        rx.track(Experiment("textures"), tolerances=[Tolerance("eval.*", 0.1, 0.1)])
    assert not (tmp_path / "runs").exists()
