"""``params["cpu_kernels"]``: the declared CPU kernels run (or the run is refused), and oneDNN's
kernels train bit-exactly like Eigen's. Each case is a fresh process: TensorFlow fixes its
kernels once per process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from reproml.errors import ConfigError
from reproml.models.cpu_kernels import ONEDNN_ENV, cpu_kernels, use_cpu_kernels

ROOT = Path(__file__).resolve().parents[2]

TRAIN_TWICE = """
import json, sys, tempfile
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
print(json.dumps({"kernels": cpu_kernels(), "equal": weights[0] == weights[1]}))
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


def test_declared_onednn_runs_and_two_trainings_are_bit_equal():
    proc = _python(TRAIN_TWICE, "onednn")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == {"kernels": "onednn", "equal": True}


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


@pytest.mark.parametrize("declared", ["mkl", "", 1, True])
def test_a_bad_declaration_is_refused(declared):
    with pytest.raises(
        ConfigError, match=r"config entry 'cpu_kernels'.*one of \['eigen', 'onednn'\]"
    ):
        use_cpu_kernels(declared)


def test_no_declaration_keeps_the_process_kernels():
    assert use_cpu_kernels(None) == cpu_kernels() in ("eigen", "onednn")
