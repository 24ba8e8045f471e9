"""``params["cpu_kernels"]``: the declared CPU kernels run (or the run is refused), oneDNN's by
default, and they train bit-exactly like Eigen's. Each case is a fresh process: TensorFlow fixes
its kernels once per process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from reproml.errors import ConfigError
from reproml.models.cpu_kernels import (
    ONEDNN_ENV,
    cpu_kernels,
    kernels_of_environment,
    use_cpu_kernels,
)

ROOT = Path(__file__).resolve().parents[2]

TRAIN_TWICE = """
import json, sys, tempfile
from reproml.models.cpu_kernels import use_cpu_kernels  # loads no TensorFlow

use_cpu_kernels(sys.argv[1])  # before TensorFlow loads, as the recipe's config hook does
import numpy as np
import tensorflow as tf
from reproml.models.classifier import make_classifier
from reproml.models.cpu_kernels import cpu_kernels

params = {"image_shape": [12, 12, 1], "num_classes": 2, "filters": [4, 4, 4],
          "kernel_sizes": [3, 3, 3], "dense_units": 8, "cpu_kernels": sys.argv[1]}
rng = np.random.default_rng(0)
x = rng.integers(0, 256, (32, 12, 12, 1)).astype(np.uint8)
y = (x.mean(axis=(1, 2, 3)) > 127).astype(np.int64)

def input_fn():
    return tf.data.Dataset.from_tensor_slices(({"image": x}, y)).batch(8).repeat()

weights = []
for _ in range(2):
    estimator = make_classifier(tempfile.mkdtemp(), params, seed=3)
    estimator.train(input_fn, max_steps=3)
    weights.append(estimator.get_variable_value("conv1/kernel").tobytes().hex())
print(json.dumps({"kernels": cpu_kernels(), "equal": weights[0] == weights[1],
                  "weights": weights[0][:64]}))
"""

# TensorFlow loaded first: the kernels it chose then are fixed, whatever is declared after.
LOADED_FIRST = """
import tensorflow as tf
from reproml.errors import ConfigError
from reproml.models.cpu_kernels import cpu_kernels, use_cpu_kernels

chosen = cpu_kernels()
other = {"eigen": "onednn", "onednn": "eigen"}[chosen]
try:
    use_cpu_kernels(other)
except ConfigError as err:
    print(chosen, cpu_kernels(), err)
"""


def _python(script: str, *args: str, **env: str) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if k != ONEDNN_ENV}
    environ.update(PYTHONPATH=str(ROOT), TF_CPP_MIN_LOG_LEVEL="3", **env)
    return subprocess.run(
        [sys.executable, "-c", script, *args],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_declared_onednn_runs_bit_exactly_and_other_than_eigen():
    """Declared with TF_ENABLE_ONEDNN_OPTS unset (the recipe's default): oneDNN's kernels run,
    two trainings are bit-equal, and they trained other weights than Eigen's."""
    onednn = _python(TRAIN_TWICE, "onednn")
    assert onednn.returncode == 0, onednn.stderr[-3000:]
    onednn = json.loads(onednn.stdout.strip().splitlines()[-1])
    eigen = _python(TRAIN_TWICE, "eigen")
    assert eigen.returncode == 0, eigen.stderr[-3000:]
    eigen = json.loads(eigen.stdout.strip().splitlines()[-1])
    assert onednn["kernels"] == "onednn" and onednn["equal"], onednn
    assert eigen["kernels"] == "eigen" and eigen["equal"], eigen
    assert onednn["weights"] != eigen["weights"]


def test_kernels_are_fixed_when_tensorflow_loads_and_asked_of_what_runs():
    """Setting the variable after TensorFlow loaded changes nothing, and `cpu_kernels` says so
    (TensorFlow's own Python ``IsMklEnabled`` reads the variable again and would not)."""
    proc = _python(LOADED_FIRST)
    assert proc.returncode == 0, proc.stderr[-3000:]
    chosen, after, message = proc.stdout.strip().splitlines()[-1].split(" ", 2)
    assert after == chosen, proc.stdout
    assert f"this process runs ({chosen}: TensorFlow chose them when it loaded" in message


def test_kernels_the_process_cannot_run_are_refused_naming_the_entry_and_the_fix():
    script = (
        "from reproml.models.cpu_kernels import use_cpu_kernels\n"
        "from reproml.errors import ConfigError\n"
        "try:\n    use_cpu_kernels('onednn')\nexcept ConfigError as err:\n    print(err)\n"
    )
    proc = _python(script, **{ONEDNN_ENV: "0"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = proc.stdout.strip().splitlines()[-1]
    assert "'cpu_kernels'" in line and "this process runs (eigen" in line, line
    assert f"with {ONEDNN_ENV}=0" in line and f"start the process with {ONEDNN_ENV}=1" in line
    assert "or declare cpu_kernels='eigen'" in line, line  # the third way out: the run's own


@pytest.mark.parametrize("declared", ["mkl", "", 1, True])
def test_a_bad_declaration_is_refused(declared):
    with pytest.raises(
        ConfigError, match=r"config entry 'cpu_kernels'.*one of \['eigen', 'onednn'\]"
    ):
        use_cpu_kernels(declared)


def test_importing_reproml_sets_no_kernels():
    script = (
        "import os\n"
        "import reproml, reproml.models.classifier, reproml.recipes.classifier_experiment\n"
        f"print(os.environ.get({ONEDNN_ENV!r}, 'unset'))\n"
    )
    proc = _python(script)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip().splitlines()[-1] == "unset"


@pytest.mark.parametrize(
    ("value", "kernels"),
    [("1", "onednn"), ("TRUE", "onednn"), ("0", "eigen"), ("false", "eigen"), ("yes", None)],
)
def test_the_kernels_the_environment_asks_for(monkeypatch, value, kernels):
    monkeypatch.setenv(ONEDNN_ENV, value)
    assert kernels_of_environment() == kernels
    monkeypatch.delenv(ONEDNN_ENV)
    assert kernels_of_environment() is None


def test_no_declaration_keeps_the_process_kernels():
    assert use_cpu_kernels(None) == cpu_kernels() == "onednn"  # tests/conftest.py set them
