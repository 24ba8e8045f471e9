"""The real MNIST experiment, unchanged, on a local TF_CONFIG cluster: one job, one run.

``reproml launch --workers 2 [--ps 1] -- python -m experiments.mnist with quick ...`` ends with
exactly one run in the store, recorded by the chief (cluster, metrics, artifacts); the trainers
read disjoint record shards; a synchronous job re-launched from its record is reproduced
exactly. About 40 s per job on 2 cores, mostly TensorFlow's import in every task.
"""

from __future__ import annotations

import contextlib
import io
import sys

import pytest

from reproml.cluster.launcher import launch
from reproml.runs.reproducibility import VERDICT_EXACT, expectation_for
from tests.cluster.jobs import only_run, shards_read, task_env, write_quick_records

COMMAND = [sys.executable, "-m", "experiments.mnist"]


@pytest.fixture(scope="module")
def quick_records(tmp_path_factory) -> tuple[str, dict[str, str]]:
    """The quick config's records (written first, once), and the tasks' env."""
    env = task_env(tmp_path_factory.mktemp("empty-cache"))  # no mnist.npz: the digits fallback
    return write_quick_records(tmp_path_factory.mktemp("quick-records"), env), env


def run_job(records, env, runs_dir, workers, ps=0, extra=()) -> str:
    out = io.StringIO()
    command = [*COMMAND, "with", "quick", f"dataset.data_dir={records}", *extra]
    code = launch(command, workers, ps, timeout=300, env={**env, "REPROML_RUNS_DIR": str(runs_dir)}, out=out)  # fmt: skip
    assert code == 0, out.getvalue()[-6000:]
    return out.getvalue()


@pytest.mark.slow
def test_two_worker_all_reduce_job_is_one_run_with_disjoint_shards_and_reproduces(
    quick_records, tmp_path
):
    records, env = quick_records
    log = run_job(records, env, tmp_path / "runs", workers=2)
    assert shards_read(log) == {
        "chief:0": ["train-00000.tfrecord", "train-00002.tfrecord"],
        "worker:0": ["train-00001.tfrecord"],
    }
    assert "[worker:0] worker:0: done; the chief records the run" in log
    recorded = only_run(tmp_path / "runs")
    assert recorded["run"]["status"] == "COMPLETED"
    cluster = recorded["info"]["cluster"]
    assert cluster["task"] == {"type": "chief", "index": 0}
    assert (cluster["strategy"], cluster["num_trainers"], cluster["synchronous"]) == (
        "collective",
        2,
        True,
    )
    assert expectation_for(cluster).exact
    assert recorded["metrics"]["eval.accuracy"]["steps"] == [15, 30]  # eval_every, as one process
    assert recorded["metrics"]["train.loss"]["steps"][0] == 1
    assert recorded["run"]["result"] == recorded["metrics"]["eval.accuracy"]["values"][-1]
    assert {"history.csv", "confusion_matrix.png", "saved_model.zip"} <= set(
        recorded["run"]["artifacts"]
    )

    # `reproml reproduce` re-launches it on a local cluster of the same shape, compares exactly.
    from reproml.cli.main import main

    with pytest.MonkeyPatch.context() as patch:
        for name in ("PYTHONPATH", "REPROML_DATA_DIR", "TF_CPP_MIN_LOG_LEVEL"):
            patch.setenv(name, env[name])
        patch.delenv("REPROML_MONGO_URL", raising=False)
        stdout = io.StringIO()
        with contextlib.redirect_stdout(stdout):
            code = main(["--store", str(tmp_path / "runs"), "reproduce", "1"])
    report = stdout.getvalue().splitlines()
    assert code == 0, report
    assert (
        report[0].startswith("re-ran run 1 (mnist, seed")
        and "as run 2 on a local cluster" in report[0]
    )
    assert report[-1] == f"run 1 {VERDICT_EXACT}"


@pytest.mark.slow
def test_parameter_server_job_is_one_run_trained_by_both_workers(quick_records, tmp_path):
    records, env = quick_records
    # 400 steps: TensorFlow starts the worker 5 s after the chief, after the 30 of `quick`.
    log = run_job(records, env, tmp_path / "runs", workers=2, ps=1, extra=["steps=400"])
    assert "ps:0 rc=-15" in log  # stopped by the launcher once the trainers were done
    assert sorted(shards_read(log)) == ["chief:0", "worker:0"]
    assert set(shards_read(log)["chief:0"]).isdisjoint(shards_read(log)["worker:0"])
    recorded = only_run(tmp_path / "runs")
    assert recorded["run"]["status"] == "COMPLETED"
    cluster = recorded["info"]["cluster"]
    assert (cluster["strategy"], cluster["num_ps"], cluster["synchronous"]) == ("none", 1, False)
    # Asynchronous: the global step counts every worker's updates; the chief ran only its share.
    assert 0 < cluster["chief_steps"] < 400, cluster["chief_steps"]
    assert recorded["metrics"]["eval.accuracy"]["steps"][-1] >= 400  # async: may overshoot
    assert not expectation_for(cluster).exact
    assert "eval.accuracy" in recorded["metrics"] and "history.csv" in recorded["run"]["artifacts"]
