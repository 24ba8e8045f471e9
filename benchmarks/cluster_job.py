"""One task of the training benchmark (TF_CONFIG from `reproml launch`, or none: one process).

    python -m benchmarks.cluster_job OUT_DIR STEPS

Trains a small CNN on MNIST-like images held in memory (batch 64 per trainer; each trainer
reads its own shards of the data) and, on the chief, prints one JSON line: steps, seconds of
`train_and_evaluate`, steps/s and examples/s (global batch = 64 x trainers).
"""

from __future__ import annotations

import json
import os
import sys
import time

import numpy as np
import tensorflow as tf

from benchmarks.data import mnist_like
from reproml.cluster import cluster_task, is_chief
from reproml.cluster.distribution import shard_files
from reproml.models.determinism import run_config_for_cluster

BATCH = 64
SHARDS = 8


def main(out_dir: str, steps: int) -> None:
    x, y = mnist_like(8_192)
    x = x[..., None].astype(np.float32) / 255.0
    parts = [(x[i::SHARDS], y[i::SHARDS]) for i in range(SHARDS)]

    def input_fn(input_context=None):
        ids = shard_files(list(range(SHARDS)), input_context)
        xs = np.concatenate([parts[i][0] for i in ids])
        ys = np.concatenate([parts[i][1] for i in ids])
        ds = tf.data.Dataset.from_tensor_slices(({"image": xs}, ys))
        return ds.shuffle(2048, seed=1).repeat().batch(BATCH, drop_remainder=True)

    def model_fn(features, labels, mode):
        init = tf.compat.v1.glorot_uniform_initializer()
        h = tf.compat.v1.layers.conv2d(
            features["image"], 16, 3, 2, activation=tf.nn.relu, kernel_initializer=init
        )
        h = tf.compat.v1.layers.conv2d(h, 32, 3, 2, activation=tf.nn.relu, kernel_initializer=init)
        logits = tf.compat.v1.layers.dense(
            tf.compat.v1.layers.flatten(h), 10, kernel_initializer=init
        )
        loss = tf.compat.v1.losses.sparse_softmax_cross_entropy(labels, logits)
        step = tf.compat.v1.train.get_global_step()
        train_op = tf.compat.v1.train.GradientDescentOptimizer(0.05).minimize(loss, step)
        return tf.estimator.EstimatorSpec(mode, loss=loss, train_op=train_op)

    config = run_config_for_cluster(
        os.path.join(out_dir, "model"),
        seed=1,
        save_checkpoints_steps=steps,
        log_step_count_steps=steps,
    )
    estimator = tf.estimator.Estimator(model_fn, config=config)
    train = tf.estimator.TrainSpec(input_fn, max_steps=steps)
    evaluate = tf.estimator.EvalSpec(lambda: input_fn().take(1), steps=1, start_delay_secs=0)
    start = time.perf_counter()
    tf.estimator.train_and_evaluate(estimator, train, evaluate)
    seconds = time.perf_counter() - start
    if is_chief():
        task = cluster_task()
        trainers = 1 if task is None else task.num_trainers
        print(
            json.dumps(
                {
                    "trainers": trainers,
                    "steps": steps,
                    "seconds": seconds,
                    "steps_per_s": steps / seconds,
                    "examples_per_s": steps * BATCH * trainers / seconds,
                }
            ),
            flush=True,
        )


if __name__ == "__main__":
    os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
    main(sys.argv[1], int(sys.argv[2]))
