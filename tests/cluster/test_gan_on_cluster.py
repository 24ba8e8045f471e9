"""The real GAN experiment (`experiments.mnist_gan`) on a local TF_CONFIG cluster: one job, one run.

``reproml launch --workers 2 [--ps 1] -- python -m experiments.mnist_gan with quick ...`` runs
TF-GAN's GANEstimator (its sequential critic-step hooks, ``critic_steps=2`` here) under
MultiWorkerMirroredStrategy and under the Estimator's own parameter-server training, and ends
with exactly one run: the chief's, with its GAN scores from the fixed evaluator, which only the
chief trained, with the fingerprint one process gets. The all-reduce job is reproduced exactly.
About 30-60 s per job on 2 shared cores.
"""

from __future__ import annotations

import contextlib
import io
import re
import subprocess
import sys
from pathlib import Path

import pytest

from reproml.cluster.launcher import launch
from reproml.runs.reproducibility import VERDICT_EXACT, expectation_for
from tests.cluster.jobs import only_run, shards_read, task_env, write_quick_records

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]
EVALUATOR_STEPS = 5
COMMAND = [sys.executable, "-m", "experiments.mnist_gan", "with", "quick", "critic_steps=2"]
COMMAND += [f"evaluator_steps={EVALUATOR_STEPS}"]
SCORES = ("frechet_distance", "mnist_score", "class_entropy", "pairwise_distance")


@pytest.fixture(scope="module")
def gan_setup(tmp_path_factory) -> tuple[str, dict[str, str], Path]:
    """The quick records (3 train shards), the tasks' env, and its (empty) evaluator cache."""
    evaluators = tmp_path_factory.mktemp("evaluators")
    env = task_env(tmp_path_factory.mktemp("empty-cache"), REPROML_EVALUATOR_DIR=str(evaluators))
    record_dir = write_quick_records(tmp_path_factory.mktemp("quick-records"), env)
    return record_dir, env, evaluators


def run_job(records, env, runs_dir, workers, ps=0) -> str:
    out = io.StringIO()
    command = [*COMMAND, f"dataset.data_dir={records}"]
    env = {**env, "REPROML_RUNS_DIR": str(runs_dir)}
    code = launch(command, workers, ps, timeout=600, env=env, out=out)
    assert code == 0, out.getvalue()[-6000:]
    return out.getvalue()


def one_process_fingerprint(records: str, env: dict[str, str]) -> str:
    """The fingerprint of the evaluator one process trains on these records (a fresh cache).

    Trained in a process of its own with the tasks' environment: the kernels TensorFlow runs
    there are the job's (a process started as from a user's shell), not the test process's.
    """
    program = (
        "import sys, tempfile\n"
        "from reproml.models.evaluator import evaluator_config, load_or_train_evaluator\n"
        "from reproml.records.manifest import load_manifest\n"
        "with tempfile.TemporaryDirectory() as root:\n"
        "    evaluator = load_or_train_evaluator(\n"
        f"        load_manifest(sys.argv[1]), root, evaluator_config(steps={EVALUATOR_STEPS})\n"
        "    )\n"
        "    print(evaluator.fingerprint)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", program, records], env=env, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout.split()[-1]


def check_gan_run(recorded: dict, synchronous: bool) -> None:
    """The chief's run: completed, scored at every evaluation, its result the last distance."""
    assert recorded["run"]["status"] == "COMPLETED"
    metrics = recorded["metrics"]
    steps = metrics["eval.frechet_distance"]["steps"]
    if synchronous:
        assert steps == [3, 6]  # eval_every=3, as one process
    else:  # the global step the chief sees when it saves: the workers' updates arrive meanwhile
        assert len(steps) >= 1 and steps[-1] >= 6
    for name in SCORES:
        assert metrics[f"eval.{name}"]["steps"] == steps, name
    assert {"eval.generator_loss", "eval.discriminator_loss", "train.loss"} <= set(metrics)
    assert recorded["run"]["result"] == metrics["eval.frechet_distance"]["values"][-1]
    grids = {f"samples_step_{step:06d}.png" for step in steps}  # one per scored evaluation
    assert grids | {"history.csv"} <= set(recorded["run"]["artifacts"])
    evaluator = recorded["info"]["evaluator"]
    assert evaluator["num_samples"] == 64 and evaluator["config"]["steps"] == EVALUATOR_STEPS


def test_all_reduce_gan_job_is_one_scored_run_and_reproduces_exactly(gan_setup, tmp_path):
    records, env, evaluators = gan_setup
    log = run_job(records, env, tmp_path / "runs", workers=2)
    # Only the chief trains (and loads) the fixed evaluator: the worker does not score.
    assert re.search(r"\[chief:0\] training the evaluator for dataset \w+ into ", log), log[-3000:]
    assert not re.search(r"\[worker:0\] .*evaluator", log)
    assert [p.name for p in evaluators.iterdir() if not p.name.startswith(".")] == [
        Path(p).name for p in re.findall(r"\[chief:0\] training the evaluator .* into (\S+)", log)
    ]  # one evaluator in the cache, no temporary directory left
    assert shards_read(log) == {  # the GAN's input, sharded by the classifier's input_fn
        "chief:0": ["train-00000.tfrecord", "train-00002.tfrecord"],
        "worker:0": ["train-00001.tfrecord"],
    }
    assert "[worker:0] worker:0: done; the chief records the run" in log
    recorded = only_run(tmp_path / "runs")
    check_gan_run(recorded, synchronous=True)
    cluster = recorded["info"]["cluster"]
    assert (cluster["strategy"], cluster["num_trainers"], cluster["synchronous"]) == (
        "collective",
        2,
        True,
    )
    assert cluster["task"] == {"type": "chief", "index": 0}
    assert expectation_for(cluster).exact
    # The evaluator is one process's: the fingerprint a single process trains.
    assert recorded["info"]["evaluator"]["fingerprint"] == one_process_fingerprint(records, env)

    from reproml.cli.main import main

    with pytest.MonkeyPatch.context() as patch:
        for name in ("PYTHONPATH", "REPROML_DATA_DIR", "REPROML_EVALUATOR_DIR"):
            patch.setenv(name, env[name])
        patch.setenv("TF_CPP_MIN_LOG_LEVEL", "2")
        patch.delenv("REPROML_MONGO_URL", raising=False)
        stdout = io.StringIO()
        with contextlib.redirect_stdout(stdout):
            code = main(["--store", str(tmp_path / "runs"), "reproduce", "1"])
    report = stdout.getvalue().splitlines()
    assert code == 0, report
    assert "as run 2 on a local cluster" in report[0]
    assert report[-1] == f"run 1 {VERDICT_EXACT}", report


def test_parameter_server_gan_job_is_one_scored_run(gan_setup, tmp_path):
    records, env, _ = gan_setup
    log = run_job(records, env, tmp_path / "runs", workers=2, ps=1)
    assert not re.search(r"\[(worker|ps):0\] .*evaluator", log)
    assert "ps:0 rc=-15" in log  # stopped by the launcher once the trainers were done
    assert set(shards_read(log)["chief:0"]).isdisjoint(shards_read(log)["worker:0"])
    recorded = only_run(tmp_path / "runs")
    check_gan_run(recorded, synchronous=False)
    cluster = recorded["info"]["cluster"]
    assert (cluster["strategy"], cluster["num_ps"], cluster["synchronous"]) == ("none", 1, False)
    assert not expectation_for(cluster).exact  # compared within tolerance by `reproml reproduce`
