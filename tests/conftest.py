"""Fixtures every test folder shares."""

import pytest
from tensorflow.python.framework import config as tf_config


@pytest.fixture(autouse=True)
def _op_determinism_off():
    """Start and end every test with TensorFlow's op determinism off.

    `reproml.models.determinism.run_config` (every Estimator and experiment) switches TensorFlow's op
    determinism on for the whole process, after which unseeded random ops raise. Tests run in
    one process, so every test starts and ends with the switch off (a session-scoped fixture may
    have turned it on before this fixture runs): the order tests run in must not change what they
    see. A test that needs determinism gets it from `run_config`, as users do.
    """
    tf_config.disable_op_determinism()
    yield
    tf_config.disable_op_determinism()
