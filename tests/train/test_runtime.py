"""One training loop over two runtimes: chosen from TF_CONFIG, and recording the same things.

A tiny logistic regression on 48 made-up examples (3 classes, 5 features) trains 6 steps with
an evaluation every 2, once in this process (`LocalRuntime`) and once as the chief of a
one-task ``TF_CONFIG`` cluster (`ClusterRuntime`, `tf.estimator.train_and_evaluate`'s chief
role). Both go through `reproml.train.loop.train_and_evaluate`: the same evaluation steps, the
same history, the same best checkpoint and the same returned metrics.
"""

from __future__ import annotations

import csv
import json
import socket
from pathlib import Path

import pytest

from reproml.cluster.tf_config import TF_CONFIG_ENV, ClusterTask
from reproml.errors import ConfigError
from reproml.train.cluster_runtime import ClusterRuntime
from reproml.train.local_runtime import LocalRuntime, evaluation_steps
from reproml.train.loop import train_and_evaluate
from reproml.train.runtime import runtime_for_environment
from tests.train.tiny import FakeRun, estimator, input_fn

STEPS, EVAL_EVERY = 6, 2


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _train(tmp_path, name, **kwargs):
    run = FakeRun(tmp_path / name / "artifacts")
    seen = []
    metrics = train_and_evaluate(
        run,
        estimator(tmp_path / name / "model"),
        input_fn(train=True),
        input_fn(train=False),
        steps=STEPS,
        eval_every=EVAL_EVERY,
        log_every=1,
        after_evaluation=lambda step, m: seen.append(step),
        best_metric="loss",
        best_mode="min",
        **kwargs,
    )
    return run, metrics, seen


@pytest.fixture(autouse=True)
def _no_cluster(monkeypatch):
    monkeypatch.delenv(TF_CONFIG_ENV, raising=False)
    monkeypatch.delenv("REPROML_SWEEP_ID", raising=False)


# ------------------------------------------------------------------ choosing the runtime


def test_no_tf_config_is_the_local_runtime():
    assert isinstance(runtime_for_environment({}), LocalRuntime)


@pytest.mark.parametrize("kind", ["chief", "worker", "ps", "evaluator"])
def test_a_tf_config_task_is_the_cluster_runtime_of_that_task(kind):
    cluster = {"chief": ["h:1"], "worker": ["h:2"], "ps": ["h:3"]}
    environ = {TF_CONFIG_ENV: json.dumps({"cluster": cluster, "task": {"type": kind, "index": 0}})}
    runtime = runtime_for_environment(environ)
    assert isinstance(runtime, ClusterRuntime)
    assert runtime.task == ClusterTask(cluster, kind, 0)


def test_a_malformed_tf_config_names_the_variable():
    with pytest.raises(ConfigError, match="config entry 'TF_CONFIG'"):
        runtime_for_environment({TF_CONFIG_ENV: "{not json"})


@pytest.mark.parametrize(
    ("start", "expected"), [(0, [2, 4, 6]), (2, [4, 6]), (3, [4, 6]), (6, [6]), (7, [6])]
)
def test_the_local_schedule_skips_the_evaluations_a_resumed_run_has_done(start, expected):
    assert evaluation_steps(start, STEPS, EVAL_EVERY) == expected


# ------------------------------------------------------------------ one loop, two runtimes


@pytest.fixture(scope="module")
def both(tmp_path_factory):
    """Train the same job locally and as the chief of a one-task TF_CONFIG cluster."""
    tmp_path = tmp_path_factory.mktemp("both")
    local = _train(tmp_path, "local")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(
            TF_CONFIG_ENV,
            json.dumps({
                "cluster": {"chief": [f"127.0.0.1:{_free_port()}"]},
                "task": {"type": "chief", "index": 0},
            }),
        )  # fmt: skip
        cluster = _train(tmp_path, "cluster")
    return {"local": local, "cluster": cluster}


def _history(run):
    with open(run.artifacts / "history.csv", newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


@pytest.mark.parametrize("name", ["local", "cluster"])
def test_each_runtime_evaluates_on_the_schedule_and_keeps_the_best_checkpoint(both, name):
    run, metrics, seen = both[name]
    assert seen == [2, 4, 6]  # after_evaluation after every evaluation
    evals = [(s, v) for n, v, s in run.scalars if n == "eval.loss"]
    assert [s for s, _ in evals] == [2, 4, 6]
    best_step, best_loss = min(evals, key=lambda e: e[1])
    best = run.info["best_checkpoint"]
    assert (best["metric"], best["mode"], best["step"]) == ("loss", "min", best_step)
    assert best["value"] == pytest.approx(best_loss)
    assert Path(best["path"]).name == f"model.ckpt-{best_step}"
    assert Path(best["path"] + ".index").is_file()  # copied to model_dir/best/
    assert best["metrics"]["loss"] == pytest.approx(best_loss)
    assert int(metrics["global_step"]) == best_step  # the metrics of the best checkpoint
    rows = _history(run)
    assert [int(r["step"]) for r in rows if r["eval.loss"]] == [2, 4, 6]
    assert {"train.loss", "eval.accuracy", "eval.loss"} <= set(rows[0])


def test_both_runtimes_record_the_same_evaluations(both):
    (local, local_metrics, _), (cluster, cluster_metrics, _) = both["local"], both["cluster"]
    assert sorted(set(local.info) - {"cluster"}) == sorted(set(cluster.info) - {"cluster"})
    local_evals = [(n, s, v) for n, v, s in local.scalars if n.startswith("eval.")]
    cluster_evals = [(n, s, v) for n, v, s in cluster.scalars if n.startswith("eval.")]
    assert [e[:2] for e in local_evals] == [e[:2] for e in cluster_evals]
    # The same model, data and seed: the first evaluation is the same number. (Later ones
    # differ: one process restarts the input at each segment, the chief reads on.)
    assert local_evals[:2] == cluster_evals[:2]
    assert set(local_metrics) == set(cluster_metrics)


def test_the_cluster_runtime_records_the_cluster_and_the_chiefs_steps(both):
    run = both["cluster"][0]
    assert run.info["cluster"]["task"] == {"type": "chief", "index": 0}
    assert run.info["cluster"]["chief_steps"] == STEPS
    assert "cluster" not in both["local"][0].info


def test_a_stop_request_stops_the_local_runtime_and_fails_the_cluster_chief(tmp_path):
    run = FakeRun(tmp_path / "a")
    train_and_evaluate(
        run, estimator(tmp_path / "m"), input_fn(True), input_fn(False), steps=STEPS,
        eval_every=EVAL_EVERY, log_every=1, after_evaluation=lambda step, m: step >= 4,
    )  # fmt: skip
    assert run.info["stopped_early"] == {"step": 4, "reason": "after_evaluation"}
    environ = {
        "cluster": {"chief": [f"127.0.0.1:{_free_port()}"]},
        "task": {"type": "chief", "index": 0},
    }
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(TF_CONFIG_ENV, json.dumps(environ))
        run = FakeRun(tmp_path / "b")
        with pytest.raises(ConfigError, match="'after_evaluation': expected a callback that never"):
            train_and_evaluate(
                run, estimator(tmp_path / "n"), input_fn(True), input_fn(False), steps=STEPS,
                eval_every=EVAL_EVERY, log_every=1, after_evaluation=lambda step, m: step >= 4,
            )  # fmt: skip
    assert "stopped_early" not in run.info  # a failed chief records no stop
    assert [int(r["step"]) for r in _history(run) if r["eval.loss"]] == [2, 4]


def test_early_stopping_is_refused_on_the_cluster_before_anything_runs(tmp_path, monkeypatch):
    environ = {"cluster": {"chief": ["127.0.0.1:1"]}, "task": {"type": "chief", "index": 0}}
    monkeypatch.setenv(TF_CONFIG_ENV, json.dumps(environ))
    run = FakeRun(tmp_path / "a")
    with pytest.raises(ConfigError, match="'patience': expected None on a TF_CONFIG cluster"):
        _train(tmp_path, "c", patience=1)
    assert not (tmp_path / "c" / "model").exists() and run.info == {}
