"""A classifier experiment in a few lines: its default config, validators and commands.

    from reproml.datasets.image_folder_ingredient import dataset, ensure_records, serialize_records
    from reproml.drift.drift_ingredient import drift

    ex = rx.track(Experiment("shapes", ingredients=[dataset, drift]))
    add_classifier(ex, ensure_records, serialize_records)

    @ex.main
    def main(_run, _config):
        return train_classifier(_run, _config, ensure_records())

`add_classifier` gives the experiment every entry of `classifier_config` (each with its
comment, so ``print_config`` documents them; the experiment's own config scopes, added after,
override them), a config hook that checks every entry (`ClassifierHParams.from_config`)
before anything is serialized, trained or recorded, and the commands ``serialize``,
``evaluate``, ``export``, ``embed``, ``drift`` and ``scenario``. `train_classifier` is the
main function's work: train with evaluations, best checkpoint and early stopping, then record
the plots, the SavedModel (with its embedding output) and the model summary.
"""

# Sacred reads the local variables of config scopes: they are "unused" only to ruff.
# ruff: noqa: F841
from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from sacred import Experiment

from reproml.drift.drift_ingredient import drift as drift_ingredient
from reproml.drift.drift_ingredient import drift_command, embed_command, scenario_command
from reproml.errors import ConfigError
from reproml.lazy import lazy_import
from reproml.models.checkpoint import latest_checkpoint
from reproml.models.cpu_kernels import use_cpu_kernels
from reproml.recipes.classifier import (
    ClassifierHParams,
    classifier_estimator,
    classifier_train_input_fn,
    export_classifier,
    report_classifier,
)
from reproml.records.manifest import Manifest
from reproml.tracking import experiment as rx
from reproml.train.loop import train_and_evaluate

reader = lazy_import("reproml.records.reader")  # input_fn: TensorFlow

# The commands that read a trained model from `model_dir` (it must hold a checkpoint).
READS_MODEL = ("evaluate", "export", "embed", "drift")
# Sacred's own commands: they print or save the config, run nothing (no kernels to choose).
SACRED_PRINT_COMMANDS = ("print_config", "print_dependencies", "print_named_configs", "save_config")


def classifier_config() -> None:
    """Configure a classifier run (the defaults of every classifier experiment)."""
    network = "cnn"  # classifier network: a file in reproml/models/networks/
    optimizer = "adam"  # adam, sgd, rmsprop or adagrad
    lr = 1e-3  # learning rate
    dropout = 0.4  # dropout rate after the dense layer (training only)
    batch_size = 100  # examples per training batch
    steps = 2000  # global step to train to (a resumed run continues to it)
    eval_every = 1000  # training steps between evaluations on the test split
    log_every = 100  # training steps between train.loss / train.steps_per_sec logs
    best_metric = "accuracy"  # eval metric choosing the checkpoint exported and reported
    best_mode = "max"  # max or min: which values of best_metric are better
    patience = None  # stop once best_metric has not improved for this many evaluations
    model_dir = None  # checkpoints + TensorBoard events; None: <run dir>/model. Reuse to resume
    export_savedmodel = True  # export a SavedModel (serving uint8 images) after training
    num_samples = 32  # test images in the sample-predictions grid
    seed = 42  # Sacred's seed; also the TF graph seed (RunConfig.tf_random_seed)
    class_weights = None  # training-loss weights: None, "balanced" or {class name: weight}
    augment = None  # e.g. {"random_crop": 2, "brightness": 0.1}: docs/experiments.md
    cpu_kernels = "onednn"  # CPU kernels: onednn, eigen or None (the process's); docs/models.md


def classifier_hparams(
    network: str,
    optimizer: str,
    lr: float,
    dropout: float,
    batch_size: int,
    steps: int,
    eval_every: int,
    log_every: int,
    num_samples: int,
    seed: int,
    best_metric: str,
    best_mode: str,
    patience: int | None,
    model_dir: str | None,
    export_savedmodel: bool,
    class_weights: Any,
    augment: Mapping[str, Any] | None,
    cpu_kernels: str | None,
) -> ClassifierHParams:
    """Return the run's `ClassifierHParams` (captured by the experiment: Sacred fills every entry).

    Its arguments are what tells Sacred the entries are used, so a dict value given on the
    command line (``'augment={"brightness": 0.1}'``, ``class_weights={...}``) is accepted.
    """
    return ClassifierHParams.from_config(locals())


def check_classifier_config(
    config: dict[str, Any], command_name: str, logger: logging.Logger
) -> dict[str, Any]:
    """Refuse bad values before anything runs (Sacred config hook); every message names the entry.

    It then applies the ``cpu_kernels`` entry (`use_cpu_kernels`; not for Sacred's print and
    save commands), before the run starts and before Sacred seeds TensorFlow, so that whatever
    the main function does first (serialize the records, run TensorFlow ops of its own) already
    runs the declared kernels: TensorFlow fixes them when it loads.

    Raises:
      ConfigError: a bad entry (`ClassifierHParams.from_config`), a command that reads a
        trained model without a ``model_dir`` holding a checkpoint, or ``cpu_kernels`` this
        process cannot run any more (the message says how to start it).
    """
    hparams = ClassifierHParams.from_config(config)
    if command_name not in SACRED_PRINT_COMMANDS:
        # first: reading the checkpoint state below loads TensorFlow, which fixes its kernels
        use_cpu_kernels(hparams.cpu_kernels)
    if command_name in READS_MODEL and not (
        hparams.model_dir and latest_checkpoint(hparams.model_dir)
    ):
        raise ConfigError(
            "model_dir", "the model_dir of a trained run (a checkpoint)", hparams.model_dir
        )
    return {}


def classifier(_run: Any, hparams: ClassifierHParams, manifest: Manifest) -> Any:
    """Return the seeded classifier Estimator of `hparams` for `manifest`'s records."""
    return classifier_estimator(
        _run,
        manifest,
        hparams.model_dir,
        hparams.model_params(),
        hparams.seed,
        hparams.log_every,
        class_weights=hparams.class_weights,
    )


def train_classifier(_run: Any, config: Mapping[str, Any], manifest: Manifest) -> float:
    """Train, evaluate and report a classifier on `manifest`'s records; return its accuracy.

    Training evaluates every ``eval_every`` steps, keeps the best checkpoint (``best_metric``)
    and stops early after ``patience`` evaluations without improvement; in a ``reproml
    sweep`` trial every evaluation is reported to the study, which may prune it
    (`reproml.train.loop.train_and_evaluate`). The plots, the export and the result are those of the best
    checkpoint (`report_classifier`).

    Args:
      _run: the Sacred run.
      config: the run's config (``_config``).
      manifest: the records (the dataset ingredient's ``ensure_records()``).

    Returns:
      The test accuracy of the best checkpoint (test macro F1 for a multi-label classifier).
    """
    hparams = ClassifierHParams.from_config(config)
    estimator = classifier(_run, hparams, manifest)
    train_fn = classifier_train_input_fn(
        _run,
        estimator,
        manifest,
        hparams.batch_size,
        augment=hparams.augment,
        seed=hparams.seed,
        num_samples=hparams.num_samples,
    )
    metrics = train_and_evaluate(
        _run,
        estimator,
        train_fn,
        reader.input_fn("test", hparams.batch_size, manifest, n_epochs=1),
        steps=hparams.steps,
        eval_every=hparams.eval_every,
        log_every=hparams.log_every,
        best_metric=hparams.best_metric,
        best_mode=hparams.best_mode,
        patience=hparams.patience,
    )
    best = (_run.info.get("best_checkpoint") or {}).get("path")
    return report_classifier(
        _run,
        estimator,
        manifest,
        metrics,
        batch_size=hparams.batch_size,
        num_samples=hparams.num_samples,
        checkpoint=best,
        export=hparams.export_savedmodel,
    )


def add_classifier(
    ex: Experiment,
    ensure_records: Callable[[], Manifest],
    serialize_records: Callable[[], str],
) -> Experiment:
    """Give `ex` the classifier config, its validators and the standard commands.

    Call it right after creating the experiment, before its own config scopes (they override
    `classifier_config`'s entries). The experiment needs the drift ingredient
    (`reproml.drift.drift_ingredient.drift`) among its ingredients: ``embed``, ``drift`` and
    ``scenario`` read their ``drift.*`` entries.

    Args:
      ex: the (tracked) experiment.
      ensure_records: the dataset ingredient's ``ensure_records`` (its records' manifest).
      serialize_records: the dataset ingredient's ``serialize`` work (returns a fingerprint).

    Returns:
      `ex`.

    Raises:
      ValueError: the drift ingredient is not one of `ex`'s ingredients.
    """
    if drift_ingredient not in ex.ingredients:
        raise ValueError(
            f"add_classifier: experiment {ex.path!r} needs the drift ingredient: "
            "Experiment(..., ingredients=[dataset, reproml.drift.drift_ingredient.drift])"
        )
    ex.config(classifier_config)
    ex.config_hook(check_classifier_config)
    hparams_of_run = ex.capture(classifier_hparams)

    def serialize() -> str:
        """Serialize the records (if missing) and record the dataset; returns its fingerprint."""
        return serialize_records()

    def evaluate(_run: Any) -> float:
        """Evaluate the trained model in `model_dir` on the test split; returns its accuracy."""
        hparams, manifest = hparams_of_run(), ensure_records()
        estimator = classifier(_run, hparams, manifest)
        test_fn = reader.input_fn("test", hparams.batch_size, manifest, n_epochs=1)
        metrics = rx.evaluate(_run, estimator, test_fn)
        return report_classifier(
            _run,
            estimator,
            manifest,
            metrics,
            batch_size=hparams.batch_size,
            num_samples=hparams.num_samples,
        )

    def export(_run: Any) -> str:
        """Export the trained model in `model_dir` as a SavedModel; returns its path."""
        return export_classifier(_run, classifier(_run, hparams_of_run(), ensure_records()))

    def embed(_run: Any) -> list[int]:
        """Save the embeddings of ``drift.embed_from`` (embeddings.npz); returns their shape."""
        manifest = ensure_records()
        estimator = classifier(_run, hparams_of_run(), manifest)
        return embed_command(estimator=estimator, manifest=manifest)

    def drift(_run: Any) -> dict[str, Any]:
        """Report the drift of ``drift.production`` per window, linked to the run of `model_dir`."""
        hparams, manifest = hparams_of_run(), ensure_records()
        estimator = classifier(_run, hparams, manifest)
        return drift_command(estimator=estimator, manifest=manifest, seed=hparams.seed)

    def scenario() -> str:
        """Write the ``drift.scenario`` records from the dataset records; returns their directory."""
        return scenario_command(manifest=ensure_records())

    for command in (serialize, evaluate, export, embed, drift, scenario):
        ex.command(command)
    return ex
