"""An output dir (``model_dir``, any ``*_dir`` entry) inside a runs store or a record dir is refused
before anything is recorded, naming the entry and the store (`reproml.tracking.output_dirs`)."""

from __future__ import annotations

import functools
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sacred import Experiment

from reproml.errors import ConfigError
from reproml.tracking import experiment as rx
from tests.cli.toy_experiments import write_toy_records

REPO = Path(__file__).resolve().parents[2]


@functools.cache  # one experiment for every run: making one scans the imported modules
def _experiment() -> Experiment:
    ex = rx.track(Experiment("dirs"), record_code_state=False)

    @ex.config
    def config():
        model_dir = None  # noqa: F841 - read by Sacred
        dataset = {"data_dir": None}  # noqa: F841 - read by Sacred

    @ex.main
    def main(model_dir):
        if model_dir:
            Path(model_dir).mkdir(parents=True, exist_ok=True)
            (Path(model_dir) / "checkpoint").write_text("step 1")
        return 1

    return ex


@pytest.fixture
def places(tmp_path, monkeypatch):
    """A runs store holding run 1 (with its model dir) and a record dir, anywhere."""
    monkeypatch.delenv("REPROML_MONGO_URL", raising=False)
    store = tmp_path / "somewhere" / "runs"
    ex = _experiment()
    ex.run(options={"--runs_dir": str(store)})
    (store / "1" / "model").mkdir()
    records = tmp_path / "elsewhere" / "records"
    write_toy_records(records)
    return store, records


def _run_dirs(store: Path) -> list[str]:
    return sorted(p.name for p in store.iterdir() if not p.name.startswith(("_", ".")))


@pytest.mark.parametrize(
    ("entry", "where", "refused_because"),
    [
        ("model_dir", "store/mine", "outside the runs store"),
        ("model_dir", "store", "outside the runs store"),
        ("model_dir", "store/1", "outside the runs store"),  # among run 1's record files
        ("model_dir", "store/1/checkpoints", "outside the runs store"),  # not its model dir
        ("model_dir", "store/_sources/m", "outside the runs store"),
        ("model_dir", "records/model", "outside the record dir"),
        ("model_dir", "records", "outside the record dir"),
        ("dataset.data_dir", "store/records", "outside the runs store"),
    ],
)
def test_an_output_dir_inside_a_store_or_records_is_refused_before_recording(
    places, entry, where, refused_because
):
    store, records = places
    root, _, rest = where.partition("/")
    value = str((store if root == "store" else records) / rest)
    updates = {"dataset": {"data_dir": value}} if entry == "dataset.data_dir" else {entry: value}
    with pytest.raises(ConfigError) as info:
        _experiment().run(config_updates=updates, options={"--runs_dir": str(store)})
    message = str(info.value)
    assert message.startswith(f"config entry {entry!r}: expected a directory {refused_because} ")
    assert str(store if root == "store" else records) in message and len(message.splitlines()) == 1
    assert _run_dirs(store) == ["1"]  # nothing recorded
    assert not (store / "mine").exists() and not (records / "model").exists()


@pytest.mark.parametrize(
    "where", ["store/1/model", "elsewhere/model", "records-as-data_dir"], ids=str
)
def test_a_runs_own_model_dir_and_dirs_elsewhere_are_accepted(places, tmp_path, where):
    store, records = places
    updates = {
        "store/1/model": {"model_dir": str(store / "1" / "model")},
        "elsewhere/model": {"model_dir": str(tmp_path / "elsewhere" / "model")},
        "records-as-data_dir": {"dataset": {"data_dir": str(records)}},
    }[where]
    run = _experiment().run(config_updates=updates, options={"--runs_dir": str(store)})
    assert run.status == "COMPLETED"
    assert _run_dirs(store) == ["1", "2"]


def test_the_command_line_refuses_in_one_line(places, tmp_path):
    store, _ = places
    experiment = tmp_path / "anywhere" / "dirs.py"
    experiment.parent.mkdir()
    experiment.write_text(
        "from sacred import Experiment\n"
        "from reproml.tracking import experiment as rx\n"
        "ex = rx.track(Experiment('dirs'), record_code_state=False)\n"
        "@ex.config\n"
        "def config():\n"
        "    model_dir = None\n"
        "@ex.main\n"
        "def main(model_dir):\n"
        "    return 1\n"
        "if __name__ == '__main__':\n"
        "    rx.run_commandline(ex)\n"
    )
    env = dict(os.environ, PYTHONPATH=str(REPO), REPROML_RUNS_DIR=str(store))
    env.pop("REPROML_MONGO_URL", None)
    done = subprocess.run(
        [sys.executable, str(experiment), "with", f"model_dir={store / 'mine'}"],
        cwd=experiment.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode != 0
    errors = [line for line in done.stderr.splitlines() if "model_dir" in line]
    assert errors == [
        f"reproml.errors.ConfigError: config entry 'model_dir': expected a directory outside the runs store "
        f"{store} (every directory there is read as a run; only a run's own model dir, "
        f"{store}/ID/model, may be reused), got '{store / 'mine'}'"
    ], done.stderr
    assert _run_dirs(store) == ["1"]
