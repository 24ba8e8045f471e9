"""TF_CONFIG parsing, strategy choice, input shards and the reproducibility rule per strategy."""

from __future__ import annotations

import json

import pytest

from reproml.cluster import cluster_task, is_chief
from reproml.cluster.distribution import input_pipeline, resolve_strategy, shard_files
from reproml.errors import ConfigError
from reproml.runs.reproducibility import cluster_mismatch, compare_metrics, expectation_for

CHIEF_WORKER = {"chief": ["h0:1"], "worker": ["h1:1", "h2:1"]}
WORKERS_ONLY = {"worker": ["h0:1", "h1:1"]}
WITH_PS = {"chief": ["h0:1"], "worker": ["h1:1"], "ps": ["h2:1"]}


def env(cluster, kind, index=0):
    return {"TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": kind, "index": index}})}


@pytest.mark.parametrize(
    ("environ", "chief"),
    [
        ({}, True),  # one machine: the process records its run
        ({"TF_CONFIG": ""}, True),
        ({"TF_CONFIG": "{}"}, True),
        (env(CHIEF_WORKER, "chief"), True),
        (env(CHIEF_WORKER, "worker", 0), False),
        (env(CHIEF_WORKER, "worker", 1), False),
        (env(WORKERS_ONLY, "worker", 0), True),  # no chief: worker 0 is the chief
        (env(WORKERS_ONLY, "worker", 1), False),
        (env(WITH_PS, "ps"), False),
        (env(WITH_PS, "evaluator"), False),
        (env({"master": ["h0:1"], "worker": ["h1:1"]}, "master"), True),
    ],
)
def test_is_chief(environ, chief):
    assert is_chief(environ) is chief


@pytest.mark.parametrize(
    ("raw", "entry", "got"),
    [
        ("{not json", "TF_CONFIG", "{not json"),
        ('{"cluster": {"worker": ["h:1"]}, "task": {"type": "boss"}}', "TF_CONFIG.task.type", "boss"),
        ('{"cluster": {"worker": ["h:1"]}, "task": {"type": "worker", "index": 1}}', "TF_CONFIG.task.index", 1),
        ('{"cluster": {"worker": ["h:1"]}, "task": {"type": "worker", "index": -1}}', "TF_CONFIG.task.index", -1),
        ('{"cluster": {"worker": "h:1"}, "task": {"type": "worker"}}', "TF_CONFIG.cluster", {"worker": "h:1"}),
        ('{"cluster": {"ps": ["h:1"]}, "task": {"type": "ps"}}', "TF_CONFIG.cluster", {"ps": ["h:1"]}),
    ],
)  # fmt: skip
def test_malformed_tf_config_names_the_entry(raw, entry, got):
    with pytest.raises(ConfigError) as info:
        cluster_task({"TF_CONFIG": raw})
    assert (info.value.entry, info.value.got) == (entry, got)


@pytest.mark.parametrize(
    ("cluster", "kind", "index", "pipeline"),
    [
        (CHIEF_WORKER, "chief", 0, (3, 0)),
        (CHIEF_WORKER, "worker", 0, (3, 1)),
        (CHIEF_WORKER, "worker", 1, (3, 2)),
        (WORKERS_ONLY, "worker", 1, (2, 1)),
        (WITH_PS, "ps", 0, (1, 0)),
        (WITH_PS, "evaluator", 0, (1, 0)),  # evaluates on all of its split
    ],
)
def test_input_pipeline_from_tf_config(cluster, kind, index, pipeline):
    assert input_pipeline(task=cluster_task(env(cluster, kind, index))) == pipeline


def test_shard_files_by_trainer_index_and_too_few_shards():
    files = [f"train-{i:05d}.tfrecord" for i in range(7)]
    got = [shard_files(files, task=cluster_task(env(CHIEF_WORKER, k, i))) for k, i in
           [("chief", 0), ("worker", 0), ("worker", 1)]]  # fmt: skip
    assert got == [files[0::3], files[1::3], files[2::3]]
    assert shard_files(files) == files  # no TF_CONFIG: one process reads every shard

    class Context:  # what tf.distribute passes to an input_fn taking input_context
        num_input_pipelines, input_pipeline_id = 2, 1

    assert shard_files(files, Context()) == files[1::2]
    with pytest.raises(ConfigError, match="at least one shard file per trainer"):
        shard_files(files[:2], task=cluster_task(env(CHIEF_WORKER, "chief")))


@pytest.mark.parametrize(
    ("cluster", "strategy", "resolved"),
    [
        (None, "auto", "none"),
        (CHIEF_WORKER, "auto", "collective"),
        (WITH_PS, "auto", "none"),
        (WITH_PS, "parameter_server", "parameter_server"),
        (WORKERS_ONLY, "collective", "collective"),
    ],
)
def test_resolve_strategy(cluster, strategy, resolved):
    task = (
        None
        if cluster is None
        else cluster_task(env(cluster, "chief" if "chief" in cluster else "worker"))
    )
    assert resolve_strategy(strategy, task) == resolved


@pytest.mark.parametrize(
    ("cluster", "strategy", "expected"),
    [
        (WITH_PS, "collective", "without ps tasks"),
        (CHIEF_WORKER, "parameter_server", "ps tasks in TF_CONFIG"),
        (CHIEF_WORKER, "none", "each trains its own copy"),
        (CHIEF_WORKER, "mirrored", "one of"),
    ],
)
def test_strategies_that_cannot_work_are_refused(cluster, strategy, expected):
    with pytest.raises(ConfigError, match=expected):
        resolve_strategy(strategy, cluster_task(env(cluster, "chief")))


def test_reproducibility_exact_for_all_reduce_tolerance_for_async_ps():
    sync = {"strategy": "collective", "synchronous": True, "num_trainers": 2, "num_ps": 0}
    async_ps = {"strategy": "none", "synchronous": False, "num_trainers": 2, "num_ps": 1}
    assert expectation_for(None).exact and expectation_for(sync).exact
    loose = expectation_for(async_ps)
    assert not loose.exact
    assert "compared within each metric's tolerance" in loose.describe()
    recorded, rerun = (
        {"eval.loss": 0.50, "eval.accuracy": 0.90},
        {"eval.loss": 0.53, "eval.accuracy": 0.89},
    )
    assert all(c.ok for c in compare_metrics(recorded, rerun, loose))
    exact = compare_metrics(recorded, rerun, expectation_for(sync))
    assert [c.ok for c in exact] == [False, False]
    assert "DIFFERS" in exact[0].describe()
    assert not compare_metrics(recorded, {"eval.loss": 0.5}, loose)[0].ok  # a missing metric
    assert cluster_mismatch(sync, dict(sync, cluster={"chief": ["other:1"]})) is None
    problem = cluster_mismatch(sync, dict(sync, num_trainers=4))
    assert "2 trainer(s)" in problem and "4 trainer(s)" in problem
