"""One timed training of the default classifier network: reproml's Estimator or a plain Keras fit.

``python -m benchmarks.keras_job {estimator,keras} RECORD_DIR STEPS [VARIANT]`` prints one JSON
line: the wall time of the whole training, the steady-state time of steps WARMUP..STEPS (what
the ratio compares: start-up and graph building differ between the two APIs and are not the
training rate) and the process CPU time of those steps (all threads: what the steps cost
when other processes share the cores), the final step, and the final loss (two runs of one side must agree exactly).

Both sides train the same network (experiments/mnist.py's defaults: network "cnn", filters
[32, 64, 64], kernels [5, 3, 3], dense 128, dropout 0.4, Adam 1e-3) on the same 10,000 images
with batch 100. The Estimator reads the records with `input_fn` (as an experiment does), under
`run_config` (op determinism on); Keras reads the same images, decoded from the same records
into memory, with ``from_tensor_slices -> shuffle -> repeat -> batch -> cast`` and `fit`, with
TensorFlow's defaults (no op determinism).

VARIANT (Estimator side only) is a comma-separated list of switches: ``eigen`` (declare
``cpu_kernels="eigen"`` instead of the default, oneDNN's), ``xla`` (XLA auto-clustering of the
training graph: the session's ``global_jit_level`` ON_1, with
``TF_XLA_FLAGS=--tf_xla_cpu_global_jit`` set by the caller), ``nodet`` (no op determinism, to
see its cost). The caller chooses the kernels in ``TF_ENABLE_ONEDNN_OPTS`` (this module loads
TensorFlow at its top, and TensorFlow fixes them when it loads); the Estimator side declares
its kernels as a run does, so a caller's variable that contradicts them fails
(`reproml.models.cpu_kernels.use_cpu_kernels`). The kernels that ran are reported.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time

import numpy as np
import tensorflow as tf

BATCH, SEED, WARMUP = 100, 1234, 100


class _StepClock(tf.estimator.SessionRunHook):
    """Records the wall time after step WARMUP and after the last step."""

    def __init__(self) -> None:
        self.steps, self.times = 0, {}

    def after_run(self, run_context, run_values) -> None:  # noqa: ARG002 (the hook API)
        self.steps += 1
        if self.steps == WARMUP:
            self.times["warm"] = time.perf_counter()
            self.times["cpu_warm"] = time.process_time()
        self.times["end"] = time.perf_counter()
        self.times["cpu_end"] = time.process_time()


class _LossHook(tf.estimator.SessionRunHook):
    """Keeps the loss of the last step."""

    def __init__(self, loss_name: str = "sparse_softmax_cross_entropy_loss/value:0") -> None:
        self.loss_name, self.loss = loss_name, None

    def before_run(self, run_context):  # noqa: ARG002 (the hook API)
        return tf.estimator.SessionRunArgs(
            tf.compat.v1.get_collection(tf.compat.v1.GraphKeys.LOSSES)
        )

    def after_run(self, run_context, run_values) -> None:  # noqa: ARG002 (the hook API)
        self.loss = float(run_values.results[0])


def estimator_side(record_dir: str, steps: int, variant: set[str]) -> dict:
    """Train reproml's classifier (the Estimator) for `steps` steps, in a scratch model_dir."""
    from reproml.models.cpu_kernels import DEFAULT_CPU_KERNELS, use_cpu_kernels
    from reproml.models.determinism import run_config

    kernels = "eigen" if "eigen" in variant else DEFAULT_CPU_KERNELS  # the recipe's default
    use_cpu_kernels(kernels)  # the caller's TF_ENABLE_ONEDNN_OPTS must have chosen them

    quiet = {"log_step_count_steps": None, "save_summary_steps": None}
    if "xla" in variant:  # auto-clustering of the session's graph (CPU needs the flag too)
        session = tf.compat.v1.ConfigProto()
        session.graph_options.optimizer_options.global_jit_level = (
            tf.compat.v1.OptimizerOptions.ON_1
        )
        quiet["session_config"] = session
    with tempfile.TemporaryDirectory(prefix="reproml-bench-keras-") as model_dir:
        if "nodet" in variant:
            config = tf.estimator.RunConfig(model_dir=model_dir, tf_random_seed=SEED, **quiet)
        else:
            config = run_config(model_dir, SEED, **quiet)
        return _train_estimator(config, record_dir, steps, kernels)


def _train_estimator(
    config: tf.estimator.RunConfig, record_dir: str, steps: int, kernels: str | None
) -> dict:
    """Train the classifier with `config`; the timings, final step and last loss."""
    from reproml.models import classifier
    from reproml.models.data_contract import classifier_params_from_manifest
    from reproml.records.reader import input_fn

    params = classifier.resolve_params(
        {**classifier_params_from_manifest(record_dir), "cpu_kernels": kernels}
    )
    estimator = tf.estimator.Estimator(model_fn=classifier.model_fn, config=config, params=params)
    clock, loss = _StepClock(), _LossHook()
    start = time.perf_counter()
    estimator.train(
        input_fn("train", BATCH, record_dir, random_seed=SEED), steps=steps, hooks=[clock, loss]
    )
    end = time.perf_counter()
    return {
        "seconds": end - start,
        "steady_seconds": clock.times["end"] - clock.times["warm"],
        "steady_cpu_seconds": clock.times["cpu_end"] - clock.times["cpu_warm"],
        "final_step": int(estimator.get_variable_value("global_step")),
        "loss": loss.loss,
    }


def keras_network(image_shape: tuple[int, int, int], num_classes: int) -> tf.keras.Model:
    """The default "cnn" network (reproml/models/networks/cnn.py) as a plain Keras model."""
    layers = tf.keras.layers
    net = [layers.InputLayer(image_shape)]
    for filters, size in zip((32, 64, 64), (5, 3, 3), strict=True):
        net.append(layers.Conv2D(filters, size, padding="same", activation="relu"))
        net.append(layers.MaxPooling2D(2, 2, padding="same"))
    net += [
        layers.Flatten(),
        layers.Dense(128, activation="relu"),
        layers.Dropout(0.4),
        layers.Dense(num_classes),
    ]
    return tf.keras.Sequential(net)


def keras_side(record_dir: str, steps: int) -> dict:
    """Train the same network with a plain Keras `fit` for `steps` steps."""
    from reproml.records.reader import input_fn

    images, labels = [], []
    for features, label in input_fn("train", 1000, record_dir, n_epochs=1, shuffle=False)():
        images.append(features["image"].numpy())
        labels.append(label.numpy())
    x, y = np.concatenate(images), np.concatenate(labels)
    tf.keras.utils.set_random_seed(SEED)
    ds = (
        tf.data.Dataset.from_tensor_slices((x, y))
        .shuffle(10_000, seed=SEED)
        .repeat()
        .batch(BATCH)
        .map(lambda im, lab: (tf.cast(im, tf.float32) / 255.0, lab))
        .prefetch(tf.data.AUTOTUNE)
    )
    model = keras_network(x.shape[1:], int(y.max()) + 1)
    model.compile(
        optimizer=tf.keras.optimizers.Adam(1e-3),
        loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    times: dict[str, float] = {}

    class Clock(tf.keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None) -> None:  # noqa: ARG002 (the API)
            if batch + 1 == WARMUP:
                times["warm"] = time.perf_counter()
                times["cpu_warm"] = time.process_time()
            times["end"] = time.perf_counter()
            times["cpu_end"] = time.process_time()

    start = time.perf_counter()
    history = model.fit(ds, steps_per_epoch=steps, epochs=1, verbose=0, callbacks=[Clock()])
    end = time.perf_counter()
    return {
        "seconds": end - start,
        "steady_seconds": times["end"] - times["warm"],
        "steady_cpu_seconds": times["cpu_end"] - times["cpu_warm"],
        "final_step": int(model.optimizer.iterations.numpy()),
        "loss": float(history.history["loss"][-1]),
    }


def main(side: str, record_dir: str, steps: int, variant: set[str]) -> dict:
    """Run one side; returns its timings."""
    if side == "estimator":
        result = estimator_side(record_dir, steps, variant)
    else:
        result = keras_side(record_dir, steps)
    from reproml.models.cpu_kernels import cpu_kernels

    result.update(
        side=side,
        variant=sorted(variant),
        onednn=os.environ.get("TF_ENABLE_ONEDNN_OPTS"),
        cpu_kernels=cpu_kernels(),
        steady_steps=steps - WARMUP,
    )
    return result


if __name__ == "__main__":
    side, record_dir, steps = sys.argv[1], sys.argv[2], int(sys.argv[3])
    variant = set(filter(None, (sys.argv[4] if len(sys.argv) > 4 else "").split(",")))
    print(json.dumps(main(side, record_dir, steps, variant)))
