"""One timed Estimator training, bare or inside a tracked Sacred run; for benchmarks 3 and 4.

``python -m benchmarks.train_job RECORD_DIR STEPS {bare,tracked} {on,off} RUNS_DIR`` prints one
JSON line: the wall time of the training (from building the Estimator to the end of `train`;
for a tracked run, from `ex.run` to its return, so Sacred's own start-up and the per-step
`log_scalar` calls are included) and the final global step, which both sides must agree on.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time

import tensorflow as tf

from reproml.models import classifier
from reproml.models.data_contract import classifier_params_from_manifest
from reproml.models.determinism import enable_determinism
from reproml.records.reader import input_fn

BATCH, SEED = 64, 1234
PARAMS = {"filters": [16, 32, 32], "dense_units": 64}


def _train(record_dir: str, steps: int, model_dir: str, hooks: list) -> int:
    estimator = tf.estimator.Estimator(
        model_fn=classifier.model_fn,
        config=tf.estimator.RunConfig(
            model_dir=model_dir, tf_random_seed=SEED, log_step_count_steps=None
        ),
        params=classifier.resolve_params({**PARAMS, **classifier_params_from_manifest(record_dir)}),
    )
    estimator.train(
        input_fn("train", BATCH, record_dir, random_seed=SEED), steps=steps, hooks=hooks
    )
    return int(estimator.get_variable_value("global_step"))


def main(record_dir: str, steps: int, mode: str, determinism: str, runs_dir: str) -> dict:
    """Runs one training and returns its wall time and final step."""
    if determinism == "on":
        enable_determinism()
    model_dir = tempfile.mkdtemp(prefix="reproml-bench-model-")
    if mode == "bare":
        start = time.perf_counter()
        final_step = _train(record_dir, steps, model_dir, hooks=[])
        seconds = time.perf_counter() - start
    else:
        from sacred import Experiment
        from sacred.observers import FileStorageObserver

        from reproml.train.hooks import SacredMetricsHook

        ex = Experiment("bench_tracking", save_git_info=False)
        ex.observers.append(FileStorageObserver(runs_dir))

        @ex.main
        def run(_run):
            return _train(
                record_dir, steps, model_dir, hooks=[SacredMetricsHook(_run, every_n_steps=1)]
            )

        start = time.perf_counter()
        final_step = ex.run(options={"--loglevel": "ERROR"}).result
        seconds = time.perf_counter() - start
    return {"mode": mode, "determinism": determinism, "seconds": seconds, "final_step": final_step}


if __name__ == "__main__":
    record_dir, steps, mode, det, runs = sys.argv[1:6]
    print(json.dumps(main(record_dir, int(steps), mode, det, runs)))
