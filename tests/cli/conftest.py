"""Stores made by real (tiny) Sacred runs, recorded at once in a file store and a real MongoDB."""

from __future__ import annotations

import dataclasses
import functools
import shutil
from pathlib import Path

import gridfs
import pymongo
import pytest
from sacred.observers import FileStorageObserver, MongoObserver

from reproml.runs.code_state import CodeState
from tests.cli.toy_experiments import (
    make_classifier_experiment,
    make_gan_experiment,
    write_toy_records,
)

COMMIT = "3f1c2a9b7e" + "0" * 30
DIFF = b"diff --git a/experiments/toy.py b/experiments/toy.py\n-lr = 0.1\n+lr = 0.3\n"


@dataclasses.dataclass
class World:
    """Everything the recorded runs point to."""

    store: Path
    record_dir: Path
    fingerprint: str
    mongo_url: str
    experiments: dict
    code: CodeState

    @functools.cached_property
    def db(self):
        return pymongo.MongoClient(self.mongo_url).get_default_database()


def run_experiment(ex, world: World, store: Path, config=None, db=None, expect_failure=False):
    """Runs `ex` once with a file-store observer (and a Mongo one when `db` is given)."""
    ex.observers[:] = [FileStorageObserver(store)]
    if db is not None:
        ex.observers.append(
            MongoObserver.create_from(db.runs, gridfs.GridFS(db), metrics_collection=db.metrics)
        )
    try:
        run = ex.run(config_updates=config or {}, options={"--capture": "sys"})
    except RuntimeError:
        assert expect_failure
        return None
    finally:
        ex.observers[:] = []
    assert not expect_failure
    return run


@pytest.fixture(scope="session")
def world(tmp_path_factory, mongo_server) -> World:
    """Four runs: 1 toy (clean code), 2 toy with other hyperparameters and a dirty diff,
    3 toy_gan, 4 a FAILED toy; each in `store` and in MongoDB at `mongo_url` (recorded live by
    Sacred's MongoObserver). Tests only read it; they write to databases of their own."""
    from tests.mongo_server import database_url

    root = tmp_path_factory.mktemp("cli")
    record_dir = root / "records"
    fingerprint = write_toy_records(record_dir)
    state = {"code": CodeState(COMMIT, b"")}
    experiments = {
        "toy": make_classifier_experiment(record_dir, root, lambda: state["code"]),
        "toy_gan": make_gan_experiment(record_dir, root, lambda: state["code"]),
    }
    w = World(
        root / "runs",
        record_dir,
        fingerprint,
        database_url(mongo_server, "cli_world"),
        experiments,
        state["code"],
    )
    run_experiment(experiments["toy"], w, w.store, {"seed": 11}, w.db)
    state["code"] = CodeState(COMMIT, DIFF)
    run_experiment(
        experiments["toy"],
        w,
        w.store,
        {"seed": 12, "lr": 0.3, "optimizer": "adam", "batch_size": 8},
        w.db,
    )
    state["code"] = CodeState(COMMIT, b"")
    run_experiment(experiments["toy_gan"], w, w.store, {"seed": 13}, w.db)
    run_experiment(
        experiments["toy"], w, w.store, {"seed": 14, "fail": True}, w.db, expect_failure=True
    )
    return w


@pytest.fixture
def store_copy(world, tmp_path) -> Path:
    """A private copy of the file store that a test may damage or add runs to."""
    copy = tmp_path / "runs"
    shutil.copytree(world.store, copy)
    return copy


@pytest.fixture
def no_mongo_env(monkeypatch):
    """No ``REPROML_MONGO_URL`` from the developer's shell."""
    monkeypatch.delenv("REPROML_MONGO_URL", raising=False)


@pytest.fixture
def cli(capsys):
    """Runs ``reproml ARGS`` in-process; returns (exit code, stdout, stderr)."""
    from reproml.cli.main import main

    def invoke(*args: str):
        code = main([str(a) for a in args])
        out, err = capsys.readouterr()
        return code, out, err

    return invoke
