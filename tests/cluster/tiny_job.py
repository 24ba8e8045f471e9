"""A tiny Estimator job for the launcher tests: one task of a TF_CONFIG cluster (or one process).

    python -m tests.cluster.tiny_job OUT_DIR [--strategy auto] [--steps 20]

Logistic regression on scikit-learn digits, the data cut into 4 "record shards"; each trainer
reads the shards `shard_files` gives it. Every task writes ``OUT_DIR/<type><index>.json`` (its
role, its shards, the strategy); only the chief writes ``OUT_DIR/run.json`` (the one record of
the job: cluster info and final loss).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from pathlib import Path

import numpy as np
import tensorflow as tf
from sklearn.datasets import load_digits

from reproml.cluster import cluster_task, is_chief
from reproml.cluster.distribution import cluster_info, shard_files
from reproml.models.determinism import run_config_for_cluster

NUM_SHARDS = 4


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("--strategy", default="auto")
    parser.add_argument("--steps", type=int, default=20)
    args = parser.parse_args(argv)
    out = Path(args.out)
    task = cluster_task()
    name = "local0" if task is None else f"{task.task_type}{task.task_index}"

    digits = load_digits()
    x = (digits.data / 16.0).astype(np.float32)
    y = digits.target.astype(np.int32)
    shards = [(x[i::NUM_SHARDS], y[i::NUM_SHARDS]) for i in range(NUM_SHARDS)]
    mine: list[int] = []

    def input_fn(mode, input_context=None):
        ids = shard_files(list(range(NUM_SHARDS)), input_context)
        mine[:] = ids
        xs = np.concatenate([shards[i][0] for i in ids])
        ys = np.concatenate([shards[i][1] for i in ids])
        ds = tf.data.Dataset.from_tensor_slices(({"x": xs}, ys))
        if mode == tf.estimator.ModeKeys.TRAIN:
            ds = ds.shuffle(512, seed=1).repeat()
        return ds.batch(32, drop_remainder=True)

    def model_fn(features, labels, mode):
        init = tf.compat.v1.glorot_uniform_initializer()  # seeded by the graph seed
        logits = tf.compat.v1.layers.dense(features["x"], 10, kernel_initializer=init)
        loss = tf.compat.v1.losses.sparse_softmax_cross_entropy(labels, logits)
        if mode == tf.estimator.ModeKeys.EVAL:
            return tf.estimator.EstimatorSpec(mode, loss=loss)
        step = tf.compat.v1.train.get_global_step()
        train_op = tf.compat.v1.train.GradientDescentOptimizer(0.5).minimize(loss, step)
        return tf.estimator.EstimatorSpec(mode, loss=loss, train_op=train_op)

    config = run_config_for_cluster(
        out / "model", seed=7, strategy=args.strategy, save_checkpoints_steps=args.steps
    )
    estimator = tf.estimator.Estimator(model_fn, config=config)
    train = tf.estimator.TrainSpec(
        lambda input_context=None: input_fn("train", input_context), max_steps=args.steps
    )
    evaluate = tf.estimator.EvalSpec(
        lambda: input_fn("eval"), steps=5, start_delay_secs=0, throttle_secs=1
    )
    tf.estimator.train_and_evaluate(estimator, train, evaluate)
    role = {
        "is_chief": is_chief(),
        "shards": shard_files(list(range(NUM_SHARDS))),  # from TF_CONFIG
        "input_fn_shards": list(mine),  # what training read (empty if it had nothing to do)
        "strategy": type(config.train_distribute).__name__,
    }
    (out / f"{name}.json").write_text(json.dumps(role))
    if is_chief():
        checkpoint = tf.train.latest_checkpoint(str(out / "model"))
        reader = tf.train.load_checkpoint(checkpoint)
        digest = hashlib.sha256()
        for var in sorted(reader.get_variable_to_shape_map()):
            digest.update(var.encode() + np.asarray(reader.get_tensor(var)).tobytes())
        record = {
            "cluster": cluster_info(args.strategy),
            "checkpoint": Path(checkpoint).name,
            "variables_sha256": digest.hexdigest(),
        }
        (out / "run.json").write_text(json.dumps(record))
    print(f"{name} done", flush=True)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
    sys.exit(main(sys.argv[1:]))
