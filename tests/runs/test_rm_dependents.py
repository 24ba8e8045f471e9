"""`reproml rm` knows dependents: a run whose model dir another run resumed from, shares or read
is not deleted without naming those runs; ``--force`` deletes it and says what it left broken.

The runs are real (tiny) tracked Sacred runs that keep a checkpoint in their model dir and
resume from it, as reproml's experiments do (`rx.model_dir_for`, ``info.resumed_from_step``).
"""

from __future__ import annotations

import functools
from pathlib import Path

import pytest
from sacred import Experiment

from reproml.tracking import experiment as rx


@functools.cache  # one experiment for every run: making one scans the imported modules
def _experiment() -> Experiment:
    ex = rx.track(Experiment("resumable"), record_code_state=False)

    @ex.config
    def config():
        model_dir = None  # noqa: F841 - read by Sacred; None: <run dir>/model
        steps = 3  # noqa: F841 - read by Sacred

    @ex.main
    def main(_run, model_dir, steps):
        directory = Path(rx.model_dir_for(_run, model_dir))
        directory.mkdir(parents=True, exist_ok=True)
        checkpoint = directory / "checkpoint"
        done = int(checkpoint.read_text()) if checkpoint.exists() else 0
        if done:
            _run.info["resumed_from_step"] = done
        checkpoint.write_text(str(steps))
        rx.record_tensorboard(_run, str(directory))
        return steps

    return ex


def _run(store: Path, **config) -> None:
    run = _experiment().run(config_updates=config, options={"--runs_dir": str(store)})
    assert run.status == "COMPLETED"


def _ids(store: Path) -> list[str]:
    return sorted(p.name for p in store.iterdir() if not p.name.startswith(("_", ".")))


@pytest.fixture
def resumed(tmp_path, no_mongo_env):
    """Run 1 trained in its own <run dir>/model; run 2 resumed there to step 6."""
    store = tmp_path / "runs"
    _run(store)
    _run(store, model_dir=str(store / "1" / "model"), steps=6)
    return store


def test_rm_refuses_a_run_another_resumed_from_naming_it(resumed, cli):
    model = resumed / "1" / "model"
    code, out, err = cli("--store", resumed, "rm", "1", "--yes")
    assert code == 2 and out == ""
    assert err == (
        f"reproml rm: error: run 1 is used by run 2 (model_dir {model}, resumed from step 3): "
        "deleting would leave their records naming files that are gone. Delete them too "
        "(reproml rm 1 2) or pass --force\n"
    )
    assert _ids(resumed) == ["1", "2"] and (model / "checkpoint").read_text() == "6"


def test_rm_force_deletes_and_says_what_it_left_broken(resumed, cli):
    code, out, err = cli("--store", resumed, "rm", "1", "--yes", "--force")
    assert code == 0, err
    assert out.splitlines()[0].startswith("deleted run 1 (resumable, COMPLETED, ")
    assert out.splitlines()[1] == (
        f"  --force: run 2's model_dir {resumed / '1' / 'model'} is gone"
    )
    assert _ids(resumed) == ["2"]


def test_rm_deletes_a_run_with_its_dependents_and_a_dependent_alone(resumed, cli):
    code, _, err = cli("--store", resumed, "rm", "2", "--yes")  # run 1 does not use run 2
    assert code == 0, err
    assert _ids(resumed) == ["1"] and (resumed / "1" / "model" / "checkpoint").is_file()
    _run(resumed, model_dir=str(resumed / "1" / "model"), steps=9)  # a new run 2 resumes again
    assert cli("--store", resumed, "rm", "1", "--yes")[0] == 2
    code, _, err = cli("--store", resumed, "rm", "1", "2", "--yes")
    assert code == 0, err
    assert _ids(resumed) == []


def test_a_shared_model_dir_outside_the_store_names_the_other_run(tmp_path, cli, no_mongo_env):
    store, shared = tmp_path / "runs", tmp_path / "anywhere" / "shared model"
    _run(store, model_dir=str(shared))
    _run(store, model_dir=str(shared), steps=6)
    code, _, err = cli("--store", store, "rm", "1", "--yes")
    assert code == 2
    assert f"run 1 is used by run 2 (model_dir {shared}, resumed from step 3)" in err
    code, out, err = cli("--store", store, "rm", "1", "--yes", "--force")
    assert code == 0, err
    assert out.splitlines()[1:] == [
        f"  left in place (outside the store): model_dir {shared}",
        f"  --force: run 2's model_dir {shared} is left in place (still used)",
    ]
    assert (shared / "checkpoint").read_text() == "6"


def test_rm_in_mongodb_knows_dependents_too(tmp_path, cli, mongo_db, monkeypatch):
    url, db = mongo_db
    monkeypatch.setenv("REPROML_MONGO_URL", url)
    store = tmp_path / "runs"
    _run(store)
    _run(store, model_dir=str(store / "1" / "model"), steps=6)
    first, second = (str(doc["_id"]) for doc in db.runs.find().sort("_id"))
    monkeypatch.delenv("REPROML_MONGO_URL")
    code, _, err = cli("--mongo", url, "rm", first, "--yes")
    assert code == 2
    assert f"run {first} is used by run {second} (model_dir {store / '1' / 'model'}" in err
    assert db.runs.count_documents({}) == 2
