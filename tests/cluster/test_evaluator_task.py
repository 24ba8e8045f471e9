"""The evaluator task of a TF_CONFIG job, end to end: ``reproml launch --workers 1 --evaluator``.

The real MNIST experiment with ``model_dir=`` a directory every task reaches: the evaluator task
evaluates the chief's checkpoints there (TensorBoard ``model_dir/eval``), records nothing, exits
0, and the job is the chief's one run. Without ``model_dir`` the evaluator refuses to start (one
``ConfigError`` line naming it) and the job fails. About 40 s per job on 2 shared cores.
"""

from __future__ import annotations

import io
import re
import sys

import pytest

from reproml.cluster.launcher import launch
from tests.cluster.jobs import only_run
from tests.cluster.test_mnist_on_cluster import quick_records  # noqa: F401

pytestmark = pytest.mark.slow
COMMAND = [sys.executable, "-m", "experiments.mnist", "with", "quick"]


def run_with_evaluator(records, env, runs_dir, *args) -> tuple[int, str]:
    out = io.StringIO()
    command = [*COMMAND, f"dataset.data_dir={records}", *args]
    env = {**env, "REPROML_RUNS_DIR": str(runs_dir)}
    code = launch(command, 1, 0, evaluator=True, timeout=300, env=env, out=out)
    return code, out.getvalue()


def test_the_evaluator_task_evaluates_the_chiefs_checkpoints_and_records_nothing(
    quick_records,  # noqa: F811
    tmp_path,
):
    records, env = quick_records
    model_dir = tmp_path / "shared-model"
    code, log = run_with_evaluator(records, env, tmp_path / "runs", f"model_dir={model_dir}")
    assert code == 0, log[-6000:]
    assert re.search(r"\[launch\] evaluator:0 exited with 0 after", log)
    assert "[evaluator:0] evaluator:0: done; the chief records the run" in log
    assert "evaluator:0 rc=0" in log and "chief:0 rc=0" in log
    assert re.search(r"\[evaluator:0\] .*evaluator:0: none evaluating to step 30", log), log[-3000:]
    recorded = only_run(tmp_path / "runs")  # exactly one run: the chief's
    assert recorded["run"]["status"] == "COMPLETED"
    assert recorded["info"]["cluster"]["task"] == {"type": "chief", "index": 0}
    assert recorded["info"]["model_dir"] == str(model_dir)
    assert recorded["metrics"]["eval.accuracy"]["steps"] == [15, 30]  # the chief's own
    # The evaluator task's evaluations: TensorBoard events in the shared model_dir's eval/.
    assert list((model_dir / "eval").glob("events.out.tfevents.*"))
    assert (model_dir / "model.ckpt-30.index").exists()


def test_an_evaluator_without_the_shared_model_dir_refuses_to_start(
    quick_records,  # noqa: F811
    tmp_path,
):
    records, env = quick_records
    code, log = run_with_evaluator(records, env, tmp_path / "runs")
    assert code != 0
    refusal = [line for line in log.splitlines() if "ConfigError" in line]
    assert refusal and refusal[0].startswith("[evaluator:0]"), log[-4000:]
    expected = "config entry 'model_dir': expected the job's shared model_dir when the cluster"
    assert expected in refusal[0] and refusal[0].endswith("got None")
    assert re.search(r"\[launch\] evaluator:0 failed: stopping the other tasks", log)
