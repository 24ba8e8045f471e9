"""A tiny Estimator job for the training layer's tests, and the part of a Sacred run it uses.

A logistic regression on 48 made-up examples (3 classes, 5 features): seconds per run.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import tensorflow as tf

from reproml.models.determinism import run_config


class FakeRun:
    """What the loop uses of a Sacred run: info, log_scalar, add_artifact (copied to a dir)."""

    def __init__(self, artifacts: Path) -> None:
        self._id = "t"
        self.unobserved = True  # a sweep trial's run is then not tagged in a store
        self.info: dict = {}
        self.config: dict = {}
        self.scalars: list[tuple[str, float, int]] = []
        self.artifacts = artifacts
        artifacts.mkdir(parents=True, exist_ok=True)

    def log_scalar(self, name, value, step=None):
        self.scalars.append((name, float(value), step))

    def add_artifact(self, filename, name=None):
        shutil.copy(filename, self.artifacts / (name or Path(filename).name))


def _data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(48, 5)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int32) + (x[:, 1] > 0.5).astype(np.int32)
    return x, y


def input_fn(train):
    """Return the train input_fn (repeats, batches of 8) or the eval one (one pass, 16)."""
    x, y = _data()

    def dataset(input_context=None):
        ds = tf.data.Dataset.from_tensor_slices(({"x": x}, y))
        return ds.repeat().batch(8) if train else ds.batch(16)

    return dataset


def _model_fn(features, labels, mode):
    init = tf.compat.v1.glorot_uniform_initializer(seed=1)
    logits = tf.compat.v1.layers.dense(features["x"], 3, kernel_initializer=init)
    loss = tf.compat.v1.losses.sparse_softmax_cross_entropy(labels, logits)
    if mode == tf.estimator.ModeKeys.EVAL:
        accuracy = tf.compat.v1.metrics.accuracy(labels, tf.argmax(logits, 1))
        return tf.estimator.EstimatorSpec(mode, loss=loss, eval_metric_ops={"accuracy": accuracy})
    step = tf.compat.v1.train.get_global_step()
    train_op = tf.compat.v1.train.GradientDescentOptimizer(0.5).minimize(loss, step)
    return tf.estimator.EstimatorSpec(mode, loss=loss, train_op=train_op)


def estimator(model_dir):
    """The Estimator as an experiment makes it: `run_config` (on a cluster: its strategy)."""
    return tf.estimator.Estimator(_model_fn, config=run_config(model_dir, 3))
