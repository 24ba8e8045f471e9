"""Fixtures every test folder shares."""

import pytest
from tensorflow.python.framework import config as tf_config


@pytest.fixture(autouse=True)
def _restore_op_determinism():
    """Undo a process-wide `enable_op_determinism` after each test.

    `reproml.determinism.run_config` (every Estimator and experiment) switches TensorFlow's op
    determinism on for the whole process, after which unseeded random ops raise. Tests run in
    one process, so each test leaves the switch as it found it: the order tests run in must not
    change what they see.
    """
    was_enabled = tf_config.is_op_determinism_enabled()
    yield
    if not was_enabled:
        tf_config.disable_op_determinism()
