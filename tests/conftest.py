"""Fixtures every test folder shares."""

import contextlib
import os

# A classifier declares its CPU kernels, oneDNN's by default (reproml/models/cpu_kernels.py), and
# TensorFlow fixes its kernels once per process, when it loads. The in-process runs of the tests
# share a process (each pytest-xdist worker its own), which loads TensorFlow below, before any
# run declares anything: the process is set to oneDNN's kernels first, as a user's process
# running a default run is. The variable is then put back as it was (unset in CI), so that a
# subprocess (an experiment, the CLI) starts as it would from a user's shell: a command that
# loaded TensorFlow before applying its kernels would fail there as it fails for the user.
# Importing reproml sets nothing: this is the test process's setting.
_USERS_ONEDNN = os.environ.get("TF_ENABLE_ONEDNN_OPTS")
os.environ["TF_ENABLE_ONEDNN_OPTS"] = "1"

import pytest  # noqa: E402 (after the kernels are set)
from tensorflow.python.framework import config as tf_config  # noqa: E402

if _USERS_ONEDNN is None:
    del os.environ["TF_ENABLE_ONEDNN_OPTS"]
else:
    os.environ["TF_ENABLE_ONEDNN_OPTS"] = _USERS_ONEDNN

from tests.file_order import longest_files_first  # noqa: E402
from tests.quick_runs import quick_data_dir  # noqa: E402, F401 (a fixture of tests/train, tests/sweep)


def pytest_collection_modifyitems(items):
    """Start the longest test files first (tests/file_order.py): the 2 workers end together."""
    longest_files_first(items)


@pytest.fixture(autouse=True)
def _op_determinism_off():
    """Start and end every test with TensorFlow's op determinism off.

    `reproml.models.determinism.run_config` (every Estimator and experiment) switches TensorFlow's op
    determinism on for the whole process, after which unseeded random ops raise. Tests run in
    one process, so every test starts and ends with the switch off (a session-scoped fixture may
    have turned it on before this fixture runs): the order tests run in must not change what they
    see. A test that needs determinism gets it from `run_config`, as users do. TensorFlow's eager
    global seed is unset likewise.
    """
    tf_config.disable_op_determinism()
    _no_global_seed()
    yield
    tf_config.disable_op_determinism()
    _no_global_seed()


def _no_global_seed() -> None:
    """Unset TensorFlow's eager global seed, as in a fresh process.

    Sacred sets it (`tf.random.set_seed(seed)`) when a run starts in-process; ops given their own
    seed (e.g. ``input_fn(random_seed=0)``) would then draw another sequence than in a fresh
    process, so what a test sees would depend on which tests ran before it.
    """
    import tensorflow as tf

    tf.random.set_seed(None)


@pytest.fixture(scope="session")
def mongo_server(tmp_path_factory):
    """``mongodb://127.0.0.1:PORT`` of a real MongoDB-protocol server shared by the session."""
    from tests.mongo_server import server_url

    with server_url(str(tmp_path_factory.mktemp("mongo"))) as url:
        yield url


@pytest.fixture
def new_mongo_db(mongo_server):
    """Return ``new() -> (url, database)``: a database of its own per call, dropped afterwards."""
    import pymongo

    from tests.mongo_server import database_url

    clients = []

    def new(prefix: str = "t"):
        url = database_url(mongo_server, prefix)
        client = pymongo.MongoClient(url, serverSelectionTimeoutMS=5000)
        clients.append((client, url.rsplit("/", 1)[1]))
        return url, client.get_default_database()

    yield new
    for client, name in clients:
        with contextlib.suppress(Exception):
            client.drop_database(name)
        client.close()


@pytest.fixture
def mongo_db(new_mongo_db):
    """``(url, database)``: a fresh database on the real server for this test."""
    return new_mongo_db()
