"""The classifier recipe: its hyper-parameters, its Estimator, and what it reports at the end.

    hparams = ClassifierHParams.from_config(config)     # every entry checked, or ConfigError
    estimator = classifier_estimator(_run, manifest, model_dir, params, seed, log_every)
    metrics = train_and_evaluate(_run, estimator, ...)  # reproml.train.loop
    accuracy = report_classifier(_run, estimator, manifest, metrics, batch_size=100,
                                 num_samples=32, checkpoint=best, export=True)

`report_classifier` records, in this order: the PNG artifacts ``confusion_matrix.png``,
``roc_pr_curves.png`` (and ``info["roc_pr"]``) and ``sample_predictions.png``; the SavedModel
(``info["export_dir"]``, ``saved_model.zip``); ``info["model_summary"]``; then it prints the
run's summary with the test accuracy. TensorFlow and the models are imported on first use
(`reproml.lazy`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from reproml.errors import ConfigError
from reproml.lazy import lazy_import
from reproml.models.class_weights import check_class_weights_policy
from reproml.models.cpu_kernels import check_cpu_kernels, cpu_kernels
from reproml.models.networks import available_networks
from reproml.models.optimizers import OPTIMIZERS
from reproml.records.manifest import Manifest
from reproml.tracking import experiment as rx
from reproml.tracking.backbone_weights import (
    record_fine_tuning,
    resolve_backbone_weights,
    save_backbone_weights,
)
from reproml.tracking.model_summary import graph_layer_summary, record_model_summary
from reproml.tracking.recording import record_export
from reproml.tracking.records_read import bind_run_to_records
from reproml.tracking.warm_start import warm_start_from_run
from reproml.train.best_checkpoint import check_early_stopping

np = lazy_import("numpy")
augmentation = lazy_import("reproml.records.augment")  # TensorFlow
checkpoints = lazy_import("reproml.models.checkpoint")  # checkpoint_step, checkpoint_shapes
classifiers = lazy_import("reproml.models.classifier")  # make_classifier, variable shapes
loss_weights = lazy_import("reproml.models.class_weights")  # class_weights_from_policy
data_contract = lazy_import("reproml.models.data_contract")
exports = lazy_import("reproml.models.export")  # export_classifier
keras_networks = lazy_import("reproml.models.keras_network")  # network_label
plots = lazy_import("reproml.models.plots")  # matplotlib
reader = lazy_import("reproml.records.reader")  # input_fn


@dataclasses.dataclass(frozen=True)
class ClassifierHParams:
    """Every hyper-parameter of a classifier run, checked once (`from_config`).

    Attributes:
      network: a file of ``reproml/models/networks/`` (a classifier).
      optimizer: a name of `reproml.models.optimizers.OPTIMIZERS`.
      lr: the learning rate, a finite number > 0.
      dropout: the dropout rate after the dense layer, in [0, 1).
      batch_size: examples per training batch.
      steps: the global step to train to.
      eval_every: training steps between evaluations.
      log_every: training steps between metric logs.
      num_samples: test images in the sample-predictions grid.
      seed: the graph seed, an int in [0, 2**32).
      best_metric: the eval metric choosing the checkpoint reported and exported.
      best_mode: "max" or "min".
      patience: evaluations without improvement before training stops (None: never).
      model_dir: checkpoints and events (None: ``<run dir>/model``).
      export_savedmodel: export the best checkpoint's SavedModel.
      class_weights: None, "balanced" or ``{class name: weight}``.
      augment: ``{op: parameter}`` of `reproml.records.augment`, or None.
      cpu_kernels: "onednn", "eigen" or None (the process's): `reproml.models.cpu_kernels`.
    """

    network: str
    optimizer: str
    lr: float
    dropout: float
    batch_size: int
    steps: int
    eval_every: int
    log_every: int
    num_samples: int
    seed: int
    best_metric: str
    best_mode: str
    patience: int | None
    model_dir: str | None
    export_savedmodel: bool
    class_weights: Any
    augment: Mapping[str, Any] | None
    cpu_kernels: str | None

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> ClassifierHParams:
        """Return the hyper-parameters of a run's `config`, every entry checked.

        Raises:
          ConfigError: an entry is missing or has a bad value (the message names it).
        """
        missing = [f.name for f in dataclasses.fields(cls) if f.name not in config]
        if missing:
            raise ConfigError(missing[0], "a config entry of a classifier run", "no such entry")
        rx.check_choice(config, "network", available_networks("classifier"))
        rx.check_choice(config, "optimizer", sorted(OPTIMIZERS))
        rx.check_positive_number(config, "lr")
        dropout = config["dropout"]
        if (
            isinstance(dropout, bool)
            or not isinstance(dropout, int | float)
            or not 0 <= dropout < 1
        ):
            raise ConfigError("dropout", "a rate in [0, 1)", dropout)  # NaN fails 0 <= NaN too
        entries = ("batch_size", "steps", "eval_every", "log_every", "num_samples")
        rx.check_positive_int(config, *entries)
        rx.check_seed(config)
        check_early_stopping(config["best_metric"], config["best_mode"], config["patience"])
        rx.check_optional_dir(config, "model_dir")
        if not isinstance(config["export_savedmodel"], bool):
            raise ConfigError("export_savedmodel", "True or False", config["export_savedmodel"])
        check_class_weights_policy(config["class_weights"])
        augmentation.check_augment(config["augment"])
        check_cpu_kernels(config["cpu_kernels"])
        return cls(**{f.name: config[f.name] for f in dataclasses.fields(cls)})

    def model_params(self) -> dict[str, Any]:
        """Return the model params the config decides (the records decide shape and classes)."""
        return dict(
            network=self.network,
            optimizer=self.optimizer,
            lr=self.lr,
            dropout=self.dropout,
            cpu_kernels=self.cpu_kernels,
        )


def classifier_estimator(
    _run: Any,
    manifest: Manifest,
    model_dir: str | None,
    params: dict[str, Any],
    seed: int,
    log_every: int,
    class_weights: Any = None,
    init_from: str | None = None,
) -> Any:
    """Return the seeded classifier Estimator for the records of `manifest`.

    Binds the run to the records first, when its main loaded `manifest` itself: the shards'
    sha256 checked now and at the end, ``info["records_read"]`` and ``info["dataset"]``
    (`reproml.tracking.records_read.bind_run_to_records`; a run of the recipe did this in
    ``ensure_records``). Records ``info["model"]`` (the network: its file name, or
    ``keras:<file>:<function>`` for
    a Keras model from the experiment file), ``info["model_dir"]`` and ``info["tensorboard"]``;
    for ``network="backbone"`` also ``info["backbone_weights"]`` (the weights file and its
    sha256; a URL is downloaded first) and ``info["fine_tuning"]``
    (`reproml.tracking.backbone_weights`); for a label set (multi-label records)
    ``info["multi_label"]`` (labels and threshold); with a `class_weights` policy,
    ``info["class_weights"]`` (policy, per-class weights and the train split's per-class counts).

    Args:
      _run: the Sacred run.
      manifest: the records; the image shape and classes are read from it.
      model_dir: checkpoints and events; None: ``<run dir>/model`` (`rx.model_dir_for`).
      params: the model's ``network`` (a file name, or a Keras model or function returning
        one), ``optimizer``, ``lr`` and ``dropout``.
      seed: the graph seed (``RunConfig.tf_random_seed``).
      log_every: steps between TensorBoard summaries.
      class_weights: None, "balanced" or ``{class name: weight}``
        (`reproml.models.class_weights`), applied to the training loss.
      init_from: a run id of the same file store: start from its best (else latest)
        checkpoint, recorded as ``info["lineage"]`` (a backbone's weights file is then not
        loaded: the parent's values are the start).

    Raises:
      ConfigError: a bad `class_weights` policy (named; any policy for a label set), or a
        bad param.
    """
    model_params = data_contract.classifier_params_from_manifest(manifest)
    model_params.update(params)
    if model_params.get("multi_label") and class_weights is not None:
        raise ConfigError(
            "class_weights", "None: the records' label is a set of classes", class_weights
        )
    weights = loss_weights.class_weights_from_policy(class_weights, manifest)
    bind_run_to_records(_run, manifest)  # a main of its own that loaded the manifest itself
    model_dir = rx.model_dir_for(_run, model_dir)
    _run.info["model"] = keras_networks.network_label(params["network"])
    rx.record_tensorboard(_run, model_dir)
    if model_params.get("multi_label"):
        _run.info["multi_label"] = {
            "labels": model_params["class_names"],
            "threshold": classifiers.resolve_params(model_params)["threshold"],
        }
    if weights is not None:
        names = model_params["class_names"]
        _run.info["class_weights"] = {
            "policy": class_weights,
            "weights": dict(zip(names, weights, strict=True)),
            "train_counts": loss_weights.train_label_counts(manifest),
        }
        model_params["class_weights"] = weights
    warm_start = None
    if init_from is not None:
        warm_start = warm_start_from_run(_run, str(init_from))
        if model_params.get("network") == "backbone":
            model_params["backbone"] = {**model_params["backbone"], "weights": None}
        check_warm_start_fits(init_from, warm_start.ckpt_to_initialize_from, model_params)
    if model_params.get("network") == "backbone":
        model_params = resolve_backbone_weights(_run, model_params)
        record_fine_tuning(_run, model_params)
    estimator = classifiers.make_classifier(
        model_dir,
        model_params,
        seed,
        warm_start_from=warm_start,
        save_summary_steps=log_every,
        log_step_count_steps=None,
    )
    _run.info["cpu_kernels"] = cpu_kernels()  # what ran ("onednn"/"eigen"), declared or not
    return estimator


def check_warm_start_fits(init_from: Any, checkpoint: str, params: Mapping[str, Any]) -> None:
    """Refuse, naming ``init_from``, a parent checkpoint that lacks or misfits a model variable.

    Without it, TensorFlow's warm start failed inside ``train`` with a traceback ending in
    ``ValueError: Shape of variable logits/kernel:0 ((8, 3)) doesn't match ...``.

    Args:
      init_from: the ``init_from`` entry (the parent run id), named by the error.
      checkpoint: the parent's checkpoint prefix (its WarmStartSettings').
      params: the classifier params of the child.

    Raises:
      ConfigError: a model variable of `params` is not in `checkpoint` (another network), or
        has another shape there (another network size, image shape or number of classes).
    """
    stored = checkpoints.checkpoint_shapes(checkpoint)
    needed = classifiers.classifier_variable_shapes(params)
    missing = [name for name in sorted(needed) if name not in stored]
    misfit = [name for name in sorted(needed) if name in stored and stored[name] != needed[name]]
    if missing:
        problem = f"{checkpoint} lacks variable {missing[0]!r} of this model: another network"
    elif misfit:
        name = misfit[0]
        problem = (
            f"variable {name!r} is {list(stored[name])} in {checkpoint}, this model needs "
            f"{list(needed[name])}"
        )
    else:
        return
    raise ConfigError("init_from", f"a run whose checkpoint fits this model ({problem})", init_from)


def classifier_train_input_fn(
    _run: Any,
    estimator: Any,
    manifest: Manifest,
    batch_size: int,
    *,
    augment: dict[str, Any] | None,
    seed: int,
    num_samples: int,
) -> Any:
    """Return the train input_fn of `manifest`, augmented by the config entry `augment`.

    Records ``info["augment"]`` (the ops in the order they run, and the seeding) and, when
    there are ops, the ``augmented_train.png`` artifact: the first `num_samples` train
    examples (file order) augmented as at global step 0. Batch i of a training segment that
    starts at global step s is augmented as step s + i (`reproml.records.augment`), so a re-run
    or a resumed run sees bit-exactly the same augmented images.

    Args:
      _run: the Sacred run.
      estimator: the classifier (its model_dir's checkpoint step starts each segment).
      manifest: the records; the train split is read.
      batch_size: examples per training batch.
      augment: ``{op: parameter}`` (`reproml.records.augment.AUGMENT_OPS`); None: none.
      seed: the run seed the augmentation seeds are made from.
      num_samples: images in the grid.

    Raises:
      ConfigError: an unknown op, a bad parameter, or an op the images cannot take.
    """
    ops = augmentation.check_augment(augment)
    image_shape = data_contract.classifier_params_from_manifest(manifest)["image_shape"]
    augmentation.check_image_shape_for(ops, image_shape)
    _run.info["augment"] = {
        "ops": ops,
        "order": list(ops),
        "seed": seed,
        "example_seed": "fold_in([seed, global step], index in batch), then fold_in(op number)",
    }
    train_fn = reader.input_fn("train", batch_size, manifest)
    if not ops:
        return train_fn
    first = reader.input_fn("train", num_samples, manifest, n_epochs=1, shuffle=False)
    features, _ = rx.first_examples(augmentation.augmented_input_fn(first, ops, seed), num_samples)
    path = rx.new_artifact_path(_run, "augmented_train.png")
    rx.add_file_artifact(_run, plots.save_image_grid(features["image"], path))
    model_dir = estimator.model_dir
    return augmentation.augmented_input_fn(
        train_fn, ops, seed, first_step=lambda: checkpoints.checkpoint_step(model_dir)
    )


def add_classifier_plots(
    _run: Any,
    estimator: Any,
    manifest: Manifest,
    metrics: dict[str, Any],
    *,
    batch_size: int,
    num_samples: int,
    checkpoint: str | None = None,
) -> None:
    """Add the confusion matrix, ROC/PR curves (``info["roc_pr"]``) and a prediction grid.

    Args:
      _run: the Sacred run.
      estimator: the classifier.
      manifest: the records; the test split is plotted, with the manifest's class names.
      metrics: the evaluation, with its ``confusion_matrix``.
      batch_size: test examples per prediction batch.
      num_samples: test images in the ``sample_predictions.png`` grid.
      checkpoint: the checkpoint the run reports (the best); None: the latest.

    Raises:
      ValueError: the classifier is multi-label (these plots are of single-label classes).
    """
    if estimator.params.get("multi_label"):
        raise ValueError(
            "add_classifier_plots: the plots are of a single-label classifier; a multi-label "
            "one reports its per-class metrics (report_classifier)"
        )
    class_names = data_contract.classifier_params_from_manifest(manifest)["class_names"]
    matrix = np.asarray(metrics["confusion_matrix"])
    path = rx.new_artifact_path(_run, "confusion_matrix.png")
    rx.add_file_artifact(_run, plots.save_confusion_matrix(matrix, path, class_names))
    test_fn = reader.input_fn("test", batch_size, manifest, n_epochs=1, shuffle=False)
    all_labels = np.concatenate([y for _, y in test_fn().as_numpy_iterator()])
    predictions = list(estimator.predict(test_fn, checkpoint_path=checkpoint))
    probabilities = np.stack([p["probabilities"] for p in predictions])
    path = rx.new_artifact_path(_run, "roc_pr_curves.png")
    path, scores = plots.save_roc_pr_curves(all_labels, probabilities, path, class_names)
    rx.add_file_artifact(_run, path)
    _run.info["roc_pr"] = scores
    test_fn = reader.input_fn("test", num_samples, manifest, n_epochs=1, shuffle=False)
    features, labels = rx.first_examples(test_fn, num_samples)
    images = features["image"]
    # The grid's images are the first test examples in file order, the ones predicted first
    # above: their predictions are reused (the network is not built and run once more).
    if not np.array_equal(all_labels[: len(labels)], labels):
        raise ValueError("add_classifier_plots: the test split was read in another order twice")
    predicted = [int(p["class_ids"]) for p in predictions[: len(labels)]]
    path = rx.new_artifact_path(_run, "sample_predictions.png")
    grid = plots.save_sample_predictions(images, labels.tolist(), predicted, path, class_names)
    rx.add_file_artifact(_run, grid)


def add_multilabel_plots(
    _run: Any, estimator: Any, manifest: Manifest, batch_size: int, checkpoint: str | None = None
) -> None:
    """Add ``multilabel_pr.png`` (per-label PR curves, precision/recall bars named by class).

    The test split is predicted with `checkpoint` (None: the latest); the per-label scores at
    the classifier's threshold go to ``info["multilabel_pr"]``.
    """
    test_fn = reader.input_fn("test", batch_size, manifest, n_epochs=1, shuffle=False)
    labels = np.concatenate([y for _, y in test_fn().as_numpy_iterator()])
    probabilities = np.stack(
        [p["probabilities"] for p in estimator.predict(test_fn, checkpoint_path=checkpoint)]
    )
    params = classifiers.resolve_params(estimator.params)
    names = params["class_names"] or [str(i) for i in range(params["num_classes"])]
    path = rx.new_artifact_path(_run, "multilabel_pr.png")
    path, scores = plots.save_multilabel_pr(labels, probabilities, path, names, params["threshold"])
    rx.add_file_artifact(_run, path)
    _run.info["multilabel_pr"] = scores


def export_classifier(_run: Any, estimator: Any, checkpoint: str | None = None) -> str:
    """Export the SavedModel of `checkpoint` (None: the latest) to ``<model_dir>/export``.

    Records ``info["export_dir"]`` and ``saved_model.zip`` (`record_export`).

    Returns:
      The SavedModel's directory.
    """
    path = exports.export_classifier(
        estimator, Path(estimator.model_dir) / "export", checkpoint_path=checkpoint
    )
    record_export(_run, path)
    return str(path)


def record_classifier_summary(
    _run: Any, estimator: Any, checkpoint: str | None = None, saved_model: str | None = None
) -> None:
    """Record the classifier's parameters, size on disk and layers (``info["model_summary"]``).

    Args:
      _run: the Sacred run.
      estimator: the classifier (its ``params`` build the network once more, in a graph apart).
      checkpoint: the checkpoint measured; None: the latest.
      saved_model: the exported SavedModel measured, if any.
    """
    params = estimator.params
    layers = classifiers.network_layer_summary(params)  # a Keras network's own layers
    if layers is None:
        layers = graph_layer_summary(
            lambda images: classifiers.forward({"image": images}, params, training=False),
            params["image_shape"],
        )
    record_model_summary(
        _run,
        layers,
        checkpoint=checkpoint or estimator.latest_checkpoint(),
        saved_model=saved_model,
    )


def record_backbone_weights(_run: Any, estimator: Any, checkpoint: str | None = None) -> str:
    """Add the fine-tuned backbone's weights as ``backbone_weights.h5`` (a valid weights file).

    Records ``info["backbone_weights_saved"] = {"artifact", "sha256"}``; returns the sha256.
    """
    path = rx.new_artifact_path(_run, "backbone_weights.h5")
    sha256 = save_backbone_weights(
        estimator.params, checkpoint or estimator.latest_checkpoint(), path
    )
    rx.add_file_artifact(_run, path)
    _run.info["backbone_weights_saved"] = {"artifact": "backbone_weights.h5", "sha256": sha256}
    return sha256


def report_classifier(
    _run: Any,
    estimator: Any,
    manifest: Manifest,
    metrics: dict[str, Any],
    *,
    batch_size: int,
    num_samples: int,
    checkpoint: str | None = None,
    export: bool = False,
) -> float:
    """Record the plots, the SavedModel (with `export`) and the summary; print the accuracy.

    A multi-label classifier (``estimator.params["multi_label"]``) has no confusion matrix,
    ROC curves or single-class prediction grid: its per-class metrics and its per-label PR
    plot (`add_multilabel_plots`) are its report, and its result is the test ``macro_f1``.

    Args:
      _run: the Sacred run.
      estimator: the classifier.
      manifest: the records it was evaluated on.
      metrics: the evaluation reported (of `checkpoint`).
      batch_size: test examples per prediction batch.
      num_samples: test images in the prediction grid.
      checkpoint: the checkpoint reported and exported (the best); None: the latest.
      export: export the SavedModel of `checkpoint` and record it.

    Returns:
      The test accuracy (the run's result); the test macro F1 for a multi-label classifier.
    """
    if estimator.params.get("multi_label"):
        add_multilabel_plots(_run, estimator, manifest, batch_size, checkpoint)
        saved_model = export_classifier(_run, estimator, checkpoint) if export else None
        record_classifier_summary(_run, estimator, checkpoint, saved_model)
        macro_f1 = float(metrics["macro_f1"])
        rx.print_run_summary(_run, "test macro F1", macro_f1)
        return macro_f1
    add_classifier_plots(
        _run,
        estimator,
        manifest,
        metrics,
        batch_size=batch_size,
        num_samples=num_samples,
        checkpoint=checkpoint,
    )
    saved_model = export_classifier(_run, estimator, checkpoint) if export else None
    if estimator.params.get("network") == "backbone":
        record_backbone_weights(_run, estimator, checkpoint)
    record_classifier_summary(_run, estimator, checkpoint, saved_model)
    accuracy = float(metrics["accuracy"])
    rx.print_run_summary(_run, "test accuracy", accuracy)
    return accuracy
