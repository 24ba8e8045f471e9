"""MNIST digit classifier: serialize -> train -> evaluate -> export, tracked by Sacred.

    python -m experiments.mnist                          # default: ~98-99% test accuracy on
                                                         # MNIST (>= 90% on the digits fallback)
                                                         # in a few minutes on 2 CPU cores
    python -m experiments.mnist with quick               # tiny run (tests, CI)
    python -m experiments.mnist with lr=3e-4 steps=4000  # overrides
    python -m experiments.mnist print_config             # every entry with its comment
    python -m experiments.mnist serialize | evaluate with model_dir=... | export with model_dir=...
    python -m experiments.mnist -m localhost:27017:reproml   # also record in MongoDB

Runs land in ``runs/`` (``$REPROML_RUNS_DIR``); see docs/experiments.md.
"""

# Sacred reads the local variables of config scopes: they are "unused" only to ruff.
# ruff: noqa: F841
from __future__ import annotations

from pathlib import Path

import numpy as np

from reproml.datasets.mnist import (
    MNIST_CLASS_NAMES,
    load_mnist,
    mnist_keys_to_handlers,
    mnist_rows,
    mnist_split_sizes,
)
from reproml.models.classifier import DEFAULT_PARAMS, make_classifier
from reproml.models.export import export_classifier
from reproml.models.frechet import images_input_fn
from reproml.models.networks import available_networks
from reproml.models.optimizers import OPTIMIZERS
from reproml.models.plots import save_confusion_matrix, save_sample_predictions
from reproml.records.reader import input_fn
from reproml.records.writer import write_records
from reproml.tracking import experiment as rx
from reproml.tracking.hooks import log_eval_metrics
from reproml.tracking.record import record_dataset, record_export

ex = rx.ReproExperiment("mnist")


@ex.config
def config():
    """Configure the default run: the whole of MNIST, about 2-3 minutes on 2 CPU cores."""
    data_dir = "data/mnist/records"  # TFRecords + manifest.json; serialized here when missing
    data_path = None  # a Keras-layout mnist.npz to serialize; None: cached/downloaded MNIST
    allow_download = True  # download MNIST (sha256-checked) if not cached; else digits fallback
    max_examples = None  # serialize at most this many examples per split (None: all)
    samples_per_record = 10000  # examples per TFRecord shard
    compression = None  # shard compression: None, "GZIP" or "ZLIB"
    network = "cnn"  # classifier network: a file in reproml/models/networks/
    optimizer = "adam"  # adam, sgd, rmsprop or adagrad
    lr = 1e-3  # learning rate
    dropout = 0.4  # dropout rate after the dense layer (training only)
    batch_size = 100  # examples per training batch
    steps = 2000  # global step to train to (a resumed run continues to it)
    eval_every = 1000  # training steps between evaluations on the test split
    log_every = 100  # training steps between train.loss / train.steps_per_sec logs
    model_dir = None  # checkpoints + TensorBoard events; None: <run dir>/model. Reuse to resume
    export_savedmodel = True  # export a SavedModel (serving uint8 images) after training
    num_samples = 32  # test images in the sample-predictions grid
    seed = 42  # Sacred's seed; also the TF graph seed (RunConfig.tf_random_seed)


@ex.named_config
def quick():
    """Make a tiny run for tests and CI (seconds, not minutes; digits fallback, no download)."""
    allow_download = False  # never touch the network
    max_examples = 256  # 256 train and 256 test examples
    samples_per_record = 100  # three shards per split
    batch_size = 32  # small batches
    steps = 30  # a few steps
    eval_every = 15  # two evaluations
    log_every = 5  # a metric point every 5 steps
    num_samples = 8  # a small grid


@ex.validate
def check_config(config):
    """Refuse bad values before anything runs; every message names the entry."""
    rx.check_positive_int(config, "batch_size", "steps", "eval_every", "log_every")
    rx.check_positive_int(config, "samples_per_record", "num_samples")
    rx.check_positive_number(config, "lr")
    rx.check_choice(config, "optimizer", sorted(OPTIMIZERS))
    rx.check_choice(config, "network", available_networks("classifier"))
    rx.check_choice(config, "compression", [None, "GZIP", "ZLIB"])
    rx.check_existing_path(config, "data_path")
    if config["max_examples"] is not None:
        rx.check_positive_int(config, "max_examples")
    if not 0 <= config["dropout"] < 1:
        raise rx.ConfigError("dropout", "a rate in [0, 1)", config["dropout"])


def write_mnist_records(
    data_dir, data_path, allow_download, max_examples, samples_per_record, compression
):
    """Write the MNIST (or digits fallback) TFRecords and manifest to `data_dir`."""
    arrays, source = load_mnist(data_path, allow_download=allow_download)
    return write_records(
        data_dir,
        "{split}-{idx:05d}.tfrecord",
        mnist_keys_to_handlers(),
        samples_per_record,
        rx.split_sizes_limited(mnist_split_sizes(arrays), max_examples),
        lambda split: mnist_rows(arrays, split),
        compression=compression,
        source=source,
        splits=("train", "test"),
    )


@ex.capture
def serialize_mnist(
    data_dir, data_path, allow_download, max_examples, samples_per_record, compression
):
    """Write the records of this run's config (see `write_mnist_records`)."""
    return write_mnist_records(
        data_dir, data_path, allow_download, max_examples, samples_per_record, compression
    )


@ex.capture
def classifier(_run, model_dir, network, optimizer, lr, dropout, seed, log_every):
    """Return the seeded classifier Estimator and its model_dir (recorded in info)."""
    model_dir = rx.model_dir_for(_run, model_dir)
    params = {
        **DEFAULT_PARAMS,
        "network": network,
        "optimizer": optimizer,
        "lr": lr,
        "dropout": dropout,
    }
    _run.info["model"] = network
    rx.record_tensorboard(_run, model_dir)
    estimator = make_classifier(
        model_dir, params, seed, save_summary_steps=log_every, log_step_count_steps=None
    )
    return estimator, model_dir


@ex.capture
def evaluate_and_plot(_run, estimator, data_dir, batch_size, num_samples):
    """Evaluate on the test split; log eval.* and the confusion-matrix / predictions PNGs."""
    eval_fn = input_fn("test", batch_size, data_dir, n_epochs=1)
    metrics = dict(estimator.evaluate(eval_fn))
    log_eval_metrics(_run, metrics)
    add_plots(_run, estimator, data_dir, metrics, num_samples)
    return metrics


def add_plots(_run, estimator, data_dir, metrics, num_samples):
    """Add the confusion matrix and a grid of test predictions as PNG artifacts."""
    cm_path = save_confusion_matrix(
        np.asarray(metrics["confusion_matrix"]),
        rx.new_artifact_path(_run, "confusion_matrix.png"),
        MNIST_CLASS_NAMES,
    )
    rx.add_file_artifact(_run, cm_path)
    sample_fn = input_fn("test", num_samples, data_dir, n_epochs=1, shuffle=False)
    features, labels = rx.first_examples(sample_fn, num_samples)
    images = features["image"]
    predictions = estimator.predict(images_input_fn(images), predict_keys=["class_ids"])
    predicted = [int(p["class_ids"]) for p in predictions]
    grid = save_sample_predictions(
        images,
        labels.tolist(),
        predicted,
        rx.new_artifact_path(_run, "sample_predictions.png"),
        MNIST_CLASS_NAMES,
    )
    rx.add_file_artifact(_run, grid)


@ex.capture
def export_model(_run, estimator, model_dir):
    """Export the SavedModel under <model_dir>/export and record it."""
    path = export_classifier(estimator, Path(model_dir) / "export", (28, 28, 1))
    record_export(_run, path)
    return path


@ex.main
def main(_run, data_dir, batch_size, steps, eval_every, log_every, export_savedmodel, num_samples):
    """Serialize records if missing, train, evaluate, export; the result is the test accuracy."""
    rx.ensure_records(data_dir, serialize_mnist)
    record_dataset(_run, data_dir, "mnist")
    estimator, model_dir = classifier(_run)
    metrics = rx.train_and_evaluate(
        _run,
        estimator,
        input_fn("train", batch_size, data_dir),
        input_fn("test", batch_size, data_dir, n_epochs=1),
        steps=steps,
        eval_every=eval_every,
        log_every=log_every,
    )
    add_plots(_run, estimator, data_dir, metrics, num_samples)
    if export_savedmodel:
        export_model(_run, estimator, model_dir)
    accuracy = float(metrics["accuracy"])
    rx.print_run_summary(_run, "test accuracy", accuracy)
    return accuracy


@ex.command
def serialize(_run, data_dir):
    """Serialize the records (if missing) and record the dataset; returns the fingerprint."""
    return rx.serialize_and_record(_run, data_dir, serialize_mnist, "mnist")


@ex.command
def evaluate(_run, data_dir, model_dir):
    """Evaluate the checkpoint in `model_dir` on the test split; returns its accuracy."""
    if model_dir is None:
        raise rx.ConfigError("model_dir", "the model_dir of a trained run", None)
    record_dataset(_run, data_dir, "mnist")
    estimator, _ = classifier(_run)
    if estimator.latest_checkpoint() is None:
        raise rx.ConfigError("model_dir", "a directory holding a checkpoint", model_dir)
    metrics = evaluate_and_plot(_run, estimator)
    accuracy = float(metrics["accuracy"])
    rx.print_run_summary(_run, "test accuracy", accuracy)
    return accuracy


@ex.command
def export(_run, model_dir):
    """Export the checkpoint in `model_dir` as a SavedModel; returns its path."""
    if model_dir is None:
        raise rx.ConfigError("model_dir", "the model_dir of a trained run", None)
    estimator, model_dir = classifier(_run)
    if estimator.latest_checkpoint() is None:
        raise rx.ConfigError("model_dir", "a directory holding a checkpoint", model_dir)
    return str(export_model(_run, estimator, model_dir))


if __name__ == "__main__":
    ex.run_commandline()
