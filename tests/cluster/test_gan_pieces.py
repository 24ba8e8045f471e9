"""What the GAN needs on a cluster, in-process and fast (no cluster is started).

`gan_input_fn` hands the Estimator's ``mode`` / ``input_context`` to the records' input_fn and
gives each trainer its own noise; `tf_config_hidden` makes a one-process RunConfig on a cluster
task; `start_cluster_runtime` does nothing where no all-reduce strategy is called for.
"""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import tensorflow as tf

from reproml.cluster.distribution import start_cluster_runtime
from reproml.cluster.tf_config import cluster_task, tf_config_hidden
from reproml.models.determinism import run_config
from reproml.models.wgan import gan_input_fn

TRAIN, EVAL = tf.estimator.ModeKeys.TRAIN, tf.estimator.ModeKeys.EVAL
CHIEF_WORKER = {"chief": ["127.0.0.1:1"], "worker": ["127.0.0.1:2"]}
WITH_PS = {**CHIEF_WORKER, "ps": ["127.0.0.1:3"]}
NOISE_DIMS, SEED = 3, 7


def set_task(monkeypatch, cluster, kind, index=0):
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": cluster, "task": {"type": kind, "index": index}}))  # fmt: skip


@pytest.fixture(autouse=True)
def _no_cluster(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    monkeypatch.delenv("REPROML_STRATEGY", raising=False)


def real_batches(calls):
    """A real input_fn taking ``mode`` and ``input_context``: 3 batches of 2 uint8 images."""

    def input_fn(mode=None, input_context=None):
        calls.append((mode, input_context))
        images = np.arange(3 * 2 * 4, dtype=np.uint8).reshape(6, 2, 2, 1)
        return tf.data.Dataset.from_tensor_slices(({"image": images}, np.zeros(6))).batch(2)

    return input_fn


def noise_of(fn, **kwargs):
    return [noise.numpy() for noise, _ in fn(**kwargs)]


def expected_noise(streams):
    return [
        tf.random.stateless_normal([2, NOISE_DIMS], seed=tf.constant([SEED, s], tf.int64)).numpy()
        for s in streams
    ]


def test_one_process_noise_and_arguments_are_unchanged():
    calls = []
    fn = gan_input_fn(real_batches(calls), NOISE_DIMS, SEED)
    for kwargs in ({}, {"mode": TRAIN}, {"mode": EVAL}):
        np.testing.assert_array_equal(noise_of(fn, **kwargs), expected_noise([0, 1, 2]))
    assert calls == [(None, None), (TRAIN, None), (EVAL, None)]
    noise, images = next(iter(fn()))
    assert images.dtype == tf.float32 and float(tf.reduce_min(images)) == -1.0


def test_each_trainer_gets_its_own_noise_while_training_on_a_cluster(monkeypatch):
    calls = []
    fn = gan_input_fn(real_batches(calls), NOISE_DIMS, SEED)
    set_task(monkeypatch, CHIEF_WORKER, "worker")  # trainer 1 of 2 (from TF_CONFIG: ps training)
    np.testing.assert_array_equal(noise_of(fn, mode=TRAIN), expected_noise([1, 3, 5]))
    np.testing.assert_array_equal(noise_of(fn, mode=EVAL), expected_noise([0, 1, 2]))
    monkeypatch.delenv("TF_CONFIG")
    context = tf.distribute.InputContext(num_input_pipelines=2, input_pipeline_id=0)
    np.testing.assert_array_equal(
        noise_of(fn, mode=TRAIN, input_context=context), expected_noise([0, 2, 4])
    )
    assert calls[-1] == (TRAIN, context)  # passed on: the records' input_fn shards by it


def test_an_input_fn_without_arguments_is_called_without_them(monkeypatch):
    fn = gan_input_fn(lambda: real_batches([])(), NOISE_DIMS, SEED)
    set_task(monkeypatch, CHIEF_WORKER, "chief")
    np.testing.assert_array_equal(noise_of(fn, mode=TRAIN), expected_noise([0, 2, 4]))


def test_tf_config_hidden_gives_a_one_process_run_config(monkeypatch, tmp_path):
    set_task(monkeypatch, WITH_PS, "worker")
    assert run_config(tmp_path, 1).cluster_spec.as_dict() == WITH_PS
    with tf_config_hidden():
        assert "TF_CONFIG" not in os.environ and cluster_task() is None
        config = run_config(tmp_path, 1)
    assert config.cluster_spec.as_dict() == {} and config.master == ""
    assert config.train_distribute is None
    assert cluster_task().task_type == "worker"  # restored
    with pytest.raises(RuntimeError), tf_config_hidden():
        raise RuntimeError("restored on errors too")
    assert cluster_task().task_type == "worker"


@pytest.mark.parametrize(
    ("cluster", "kind", "strategy"),
    [
        (None, None, ""),  # one process
        (WITH_PS, "chief", ""),  # auto with ps: the Estimator's own ps training
        (WITH_PS, "worker", "parameter_server"),
        (CHIEF_WORKER, "evaluator", ""),  # the evaluator never has a strategy
    ],
)
def test_start_cluster_runtime_is_a_no_op_without_all_reduce(monkeypatch, cluster, kind, strategy):
    if cluster is not None:
        set_task(monkeypatch, cluster, kind)
    monkeypatch.setenv("REPROML_STRATEGY", strategy)
    assert start_cluster_runtime() is None
