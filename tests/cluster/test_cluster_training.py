"""The pieces an experiment uses unchanged on a cluster: RunConfig strategy, input shards, reports.

In-process and fast (no cluster is started): `run_config` picks the strategy from TF_CONFIG and
$REPROML_STRATEGY, `input_fn` reads this trainer's shard files only while training, what a
cluster cannot honour is refused, and `distributed_report` compares per strategy.
"""

from __future__ import annotations

import json
import re
import warnings

import numpy as np
import pytest
import tensorflow as tf

from reproml.cluster.distribution import STRATEGY_ENV, strategy_from_env, strategy_name
from reproml.datasets.mnist_ingredient import write_mnist_records
from reproml.errors import ConfigError
from reproml.models.determinism import run_config
from reproml.records.reader import input_fn, train_shards
from reproml.runs.reproducibility import (
    VERDICT_DIFFERS,
    VERDICT_EXACT,
    VERDICT_NOT_COMPARABLE,
    VERDICT_WITHIN_TOLERANCE,
    distributed_report,
    relaunch,
    rerun_command,
)
from reproml.train.cluster_runtime import _EvaluateEachCheckpoint, check_cluster_arguments
from reproml.train.evaluations import Evaluations
from reproml.train.loop import train_and_evaluate

TRAIN = tf.estimator.ModeKeys.TRAIN
CHIEF_WORKER = {"chief": ["127.0.0.1:1"], "worker": ["127.0.0.1:2"]}
WITH_PS = {**CHIEF_WORKER, "ps": ["127.0.0.1:3"]}
FOUR_TRAINERS = {"chief": ["h:1"], "worker": ["h:2", "h:3", "h:4"]}


def set_task(monkeypatch, cluster, kind, index=0):
    task = {"cluster": cluster, "task": {"type": kind, "index": index}}
    monkeypatch.setenv("TF_CONFIG", json.dumps(task))


@pytest.fixture(autouse=True)
def _no_cluster(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    monkeypatch.delenv(STRATEGY_ENV, raising=False)


# ------------------------------------------------------------------ run_config on a cluster


def test_run_config_on_one_machine_has_no_strategy(tmp_path):
    config = run_config(tmp_path, 3)
    assert config.train_distribute is None and not config.cluster_spec


def test_run_config_on_a_ps_cluster_uses_the_estimators_own_async_training(tmp_path, monkeypatch):
    set_task(monkeypatch, WITH_PS, "worker")
    config = run_config(tmp_path, 3)
    assert config.train_distribute is None  # "auto" with ps: between-graph replication
    assert config.task_type == "worker" and config.num_ps_replicas == 1


def test_run_config_takes_parameter_server_strategy_from_the_environment(tmp_path, monkeypatch):
    set_task(monkeypatch, WITH_PS, "chief")
    monkeypatch.setenv(STRATEGY_ENV, "parameter_server")
    config = run_config(tmp_path, 3)
    assert strategy_name(config.train_distribute) == "parameter_server"


def test_an_explicit_train_distribute_wins(tmp_path, monkeypatch):
    set_task(monkeypatch, WITH_PS, "chief")
    monkeypatch.setenv(STRATEGY_ENV, "parameter_server")
    assert run_config(tmp_path, 3, train_distribute=None).train_distribute is None


@pytest.mark.parametrize(
    ("cluster", "value", "expected"),
    [
        (WITH_PS, "bogus", "one of ['auto', 'none', 'collective', 'parameter_server']"),
        (WITH_PS, "collective", "a cluster without ps tasks for 'collective'"),
        (CHIEF_WORKER, "parameter_server", "ps tasks in TF_CONFIG for 'parameter_server'"),
        (CHIEF_WORKER, "none", "'collective' or ps tasks for several trainers"),
    ],
)
def test_a_strategy_the_cluster_cannot_run_names_the_variable(
    tmp_path, monkeypatch, cluster, value, expected
):
    set_task(monkeypatch, cluster, "chief")
    monkeypatch.setenv(STRATEGY_ENV, value)
    message = f"config entry '{STRATEGY_ENV}': expected {expected}"
    with pytest.raises(ConfigError, match=re.escape(message)):
        run_config(tmp_path, 3)


def test_strategy_from_env_defaults_to_auto():
    assert strategy_from_env({}) == "auto" and strategy_from_env({STRATEGY_ENV: " "}) == "auto"
    assert strategy_from_env({STRATEGY_ENV: "collective"}) == "collective"


def test_strategy_name_refuses_a_strategy_it_cannot_record():
    assert strategy_name(None) == "none"
    with pytest.raises(ConfigError, match="'train_distribute': expected MultiWorkerMirrored"):
        strategy_name(tf.distribute.OneDeviceStrategy("/cpu:0"))


# ------------------------------------------------------------------ input shards per trainer


@pytest.fixture(scope="module")
def records(tmp_path_factory):
    """60 train digits in 3 shards of 20."""
    chosen = {
        "data_path": None,
        "data_sha256": None,
        "allow_download": False,
        "max_examples": 60,
        "samples_per_record": 20,
        "compression": None,
    }
    cache = tmp_path_factory.mktemp("empty-cache")  # no mnist.npz: the digits fallback
    with pytest.MonkeyPatch.context() as patch, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        patch.setenv("REPROML_DATA_DIR", str(cache))
        return write_mnist_records(str(tmp_path_factory.mktemp("records")), chosen)


def read(records, **call):
    """Every (image bytes, label) one pass of the train split gives, as a sorted list."""
    fn = input_fn("train", 7, records, n_epochs=1, shuffle=False)
    out = []
    for features, labels in fn(**call).as_numpy_iterator():
        out += [(img.tobytes(), int(y)) for img, y in zip(features["image"], labels, strict=True)]
    return sorted(out)


def test_each_trainer_reads_its_own_whole_shards_while_training(records, monkeypatch):
    everything = read(records, mode=TRAIN)  # one machine: all 60
    assert len(everything) == 60 and read(records) == everything
    set_task(monkeypatch, CHIEF_WORKER, "chief")
    assert train_shards(records, "train", TRAIN) == [0, 2]
    chief = read(records, mode=TRAIN)
    set_task(monkeypatch, CHIEF_WORKER, "worker", 0)
    assert train_shards(records, "train", TRAIN) == [1]
    worker = read(records, mode=TRAIN)
    assert (len(chief), len(worker)) == (40, 20)  # whole shards, each record count checked
    assert sorted(chief + worker) == everything  # disjoint, and together the whole split
    context = tf.distribute.InputContext(num_input_pipelines=2, input_pipeline_id=0)
    assert read(records, mode=TRAIN, input_context=context) == chief  # the strategy's context


def test_outside_training_a_cluster_task_reads_the_whole_split(records, monkeypatch):
    set_task(monkeypatch, CHIEF_WORKER, "worker", 0)
    assert train_shards(records, "train", tf.estimator.ModeKeys.EVAL) is None
    assert len(read(records, mode=tf.estimator.ModeKeys.EVAL)) == 60
    assert len(read(records)) == 60  # called by hand (plots, predict)


def test_fewer_shards_than_trainers_is_refused(records, monkeypatch):
    set_task(monkeypatch, FOUR_TRAINERS, "worker", 2)
    with pytest.raises(ConfigError, match="at least one shard file per trainer"):
        read(records, mode=TRAIN)
    assert len(read(records)) == 60


def test_input_pipeline_shards_are_logged(records, monkeypatch, caplog):
    set_task(monkeypatch, CHIEF_WORKER, "worker", 0)
    with caplog.at_level("INFO", logger="reproml.records"):
        train_shards(records, "train", TRAIN)
    assert "input pipeline 1 of 2 reads 1 of 3 'train' shards: train-00001.tfrecord" in caplog.text


# ------------------------------------------------------------------ what a cluster refuses


@pytest.mark.parametrize(
    ("kwargs", "entry"),
    [
        ({"patience": 2, "best_metric": "accuracy"}, "patience"),
        ({"best_metric": "accuracy", "best_mode": "up"}, "best_mode"),
    ],
)
def test_what_a_cluster_cannot_honour_is_refused(kwargs, entry):
    args = {"after_evaluation": None, "best_metric": None, "best_mode": "max", "patience": None}
    with pytest.raises(ConfigError, match=f"config entry '{entry}'"):
        check_cluster_arguments(**{**args, **kwargs})


def test_an_after_evaluation_observer_is_allowed_but_not_in_a_sweep_trial(monkeypatch):
    args = {"best_metric": None, "best_mode": "max", "patience": None}
    check_cluster_arguments(lambda step, metrics: None, **args)  # e.g. the GAN's scores
    monkeypatch.setenv("REPROML_SWEEP_ID", "s1")
    check_cluster_arguments(None, **args)  # a sweep-launched job without a pruning callback
    with pytest.raises(ConfigError, match="'REPROML_SWEEP_ID': expected unset on a TF_CONFIG"):
        check_cluster_arguments(lambda step, metrics: False, **args)


def test_an_after_evaluation_asking_to_stop_fails_the_chief(tmp_path):
    class History:
        def __init__(self):
            self.rows = []

        def log_scalar(self, name, value, step):
            self.rows.append((name, value, step))

    calls = []

    def observe(step, metrics):
        calls.append((step, tf.executing_eagerly()))
        metrics["score"] = 1.0
        return step >= 4

    history = History()
    evaluations = _EvaluateEachCheckpoint(None, Evaluations(history, None, observe, steps=10))
    graph = tf.Graph()
    with graph.as_default():
        graph.finalize()  # as the chief's training graph, inside which the saver hook runs
        metrics = {"global_step": 2, "loss": 0.5}
        evaluations.record(metrics, 2, "model.ckpt-2")
        assert evaluations.evaluations.metrics is metrics and metrics["score"] == 1.0
        with pytest.raises(ConfigError, match="'after_evaluation': expected a callback that never"):
            evaluations.record({"global_step": 4, "loss": 0.4}, 4, "model.ckpt-4")
    assert calls == [(2, True), (4, True)]  # called eagerly, as on one machine
    assert history.rows[0] == ("eval.loss", 0.5, 2)


def test_refused_before_anything_runs(monkeypatch):
    set_task(monkeypatch, CHIEF_WORKER, "chief")
    with pytest.raises(ConfigError, match="'patience': expected None on a TF_CONFIG cluster"):
        train_and_evaluate(
            None, None, None, None, steps=1, eval_every=1, log_every=1, patience=3,
            best_metric="accuracy",
        )  # fmt: skip


# ------------------------------------------------------------------ re-runs, per strategy


def info(strategy, trainers=2, ps=0):
    spec = {"chief": ["a:1"], "worker": [f"b:{i}" for i in range(trainers - 1)]}
    if ps:
        spec["ps"] = [f"p:{i}" for i in range(ps)]
    return {
        "cluster": {
            "cluster": spec,
            "task": {"type": "chief", "index": 0},
            "strategy": strategy,
            "synchronous": not ps,
            "num_trainers": trainers,
            "num_ps": ps,
        }
    }


def series(*values):
    return {"steps": list(range(len(values))), "values": list(values), "timestamps": [object()]}


def test_a_synchronous_job_is_compared_exactly():
    a = {"eval.accuracy": series(0.5, 0.9), "train.steps_per_sec": series(3.0)}
    b = {"eval.accuracy": series(0.5, 0.9), "train.steps_per_sec": series(9.0)}
    lines, verdict = distributed_report(info("collective"), info("collective"), a, b)
    assert verdict == VERDICT_EXACT
    assert lines[0].startswith("compared exactly: synchronous all-reduce (collective) on 2")
    assert "train.steps_per_sec: timing, not compared" in lines
    b["eval.accuracy"] = series(0.6, 0.9)
    lines, verdict = distributed_report(info("collective"), info("collective"), a, b)
    assert verdict == VERDICT_DIFFERS
    assert "eval.accuracy: final value exact, earlier values DIFFER" in lines
    b["eval.accuracy"] = series(0.9, 0.9000001)
    assert distributed_report(info("collective"), info("collective"), a, b)[1] == VERDICT_DIFFERS


def test_an_async_job_is_compared_within_the_printed_tolerance():
    a, b = {"eval.accuracy": 0.84, "result": 0.84}, {"eval.accuracy": 0.80, "result": 0.80}
    lines, verdict = distributed_report(info("none", ps=1), info("none", ps=1), a, b, None, "mnist")
    assert verdict == VERDICT_WITHIN_TOLERANCE
    assert lines[0].startswith("compared within each metric's tolerance (shown per metric): async")
    assert (
        "eval.accuracy: 0.84 vs 0.8 (|diff| 0.04; rtol=0, atol=0.06; measured spread 0.043)  ok"
        in lines
    )
    far = {"eval.accuracy": 0.5, "result": 0.5}
    assert distributed_report(info("none", ps=1), info("none", ps=1), a, far)[1] == VERDICT_DIFFERS


def test_another_cluster_shape_is_not_compared():
    lines, verdict = distributed_report(info("collective", 2), info("collective", 3), {}, {})
    assert verdict == VERDICT_NOT_COMPARABLE
    assert "2 trainer(s)" in lines[0] and "3 trainer(s)" in lines[0]
    assert distributed_report(info("collective"), {}, {}, {})[1] == VERDICT_NOT_COMPARABLE


def test_a_bare_tf_config_record_and_one_process():
    bare = {"cluster": {"cluster": WITH_PS, "task": {"type": "chief", "index": 0}}}
    lines, verdict = distributed_report(bare, info("none", ps=1), {"m": 1.0}, {"m": 1.01})
    assert verdict.startswith(VERDICT_WITHIN_TOLERANCE)
    lines, verdict = distributed_report({}, {}, {"m": 1.0}, {"m": 1.0})
    assert verdict == VERDICT_EXACT and lines[0].startswith("compared exactly: one process")


def test_relaunch_needs_a_recorded_cluster_and_rerun_command_writes_the_config(tmp_path):
    with pytest.raises(ConfigError, match="'info.cluster'"):
        relaunch({}, ["true"])
    config = {"seed": 7, "steps": 3, "dataset": {"data_dir": "/d"}}
    command = rerun_command("experiments.mnist", config, tmp_path / "c.json")
    assert command[1:] == ["-m", "experiments.mnist", "with", str(tmp_path / "c.json")]
    assert json.loads((tmp_path / "c.json").read_text()) == config
    assert np.array_equal(
        rerun_command("m", {}, tmp_path / "e.json", command_name="evaluate")[3:5],
        ["evaluate", "with"],
    )


def test_an_evaluator_needs_the_shared_model_dir(monkeypatch):
    set_task(monkeypatch, CHIEF_WORKER, "evaluator")

    class Run:
        config = {"model_dir": None}

    with pytest.raises(ConfigError, match="'model_dir': expected the job's shared model_dir"):
        train_and_evaluate(Run(), None, None, None, steps=1, eval_every=1, log_every=1)
