"""What a drift run records: the training run it monitors, its metrics per window.

A drift run is a Sacred run of an experiment's ``drift`` command. It records::

    info["monitors"]  the id of the training run whose model_dir it read (in the same store)
    info["drift"]     checkpoint, baseline and production (fingerprint or sha256), the test,
                      alpha, windows, flagged_windows
    metrics           drift.distance, drift.mmd2, drift.p_value, drift.flagged, drift.size,
                      drift.accuracy (labelled production data), drift.class.<name>.distance,
                      each with step = window index (Omniboard plots them over the stream)
    TensorBoard       the same scalars as events in <run dir>/drift_tensorboard
    artifacts         drift_projection.png, drift_curve.png, drift_farthest.png,
                      drift_windows.json, drift_embeddings.npz (the production embeddings)

`reproml show` and `reproml leaderboard` list drift runs next to the run they monitor.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from reproml.drift.embeddings import embed_images, save_embeddings
from reproml.drift.monitor import DriftReport
from reproml.errors import ConfigError, RecordError
from reproml.runs.file_store import FileStore, load_run_dir
from reproml.sacred_internals import run_id
from reproml.tracking import experiment as rx

# The commands of a training run: a drift run monitors the last one that trained model_dir.
TRAINING_COMMANDS = ("main",)


def monitored_run(
    _run: Any, model_dir: str | os.PathLike, monitors: str | int | None
) -> str | None:
    """Return the id of the training run whose `model_dir` this run reads (same file store).

    With `monitors` None, the last run of the store whose command trained (`TRAINING_COMMANDS`)
    and whose ``info["model_dir"]`` is `model_dir`; with an id, that run, checked to have
    trained `model_dir`. An unobserved run (no store) returns `monitors` as given.

    Raises:
      ConfigError: no run of the store trained `model_dir`, or run `monitors` is not in the
        store or trained another model_dir (the message names the store and both dirs).
    """
    run_dir = _run.info.get("run_dir")
    if not run_dir:
        return None if monitors is None else str(monitors)
    store = Path(run_dir).parent
    wanted = str(Path(model_dir).expanduser().resolve())
    if monitors is not None:
        path = store / str(monitors)
        if not (path / "run.json").is_file():
            raise ConfigError("drift.monitors", f"the id of a run in {store}", monitors)
        record = load_run_dir(path)
        trained = record.info.get("model_dir")
        command = record.raw.get("command")
        if (
            command not in TRAINING_COMMANDS
            or trained is None
            or str(Path(trained).resolve()) != wanted
        ):
            raise ConfigError(
                "drift.monitors",
                f"a run that trained model_dir {wanted} (command {' or '.join(TRAINING_COMMANDS)})",
                f"run {monitors} (command {command}, model_dir {trained})",
            )
        return str(monitors)
    found = None
    for path in FileStore(store).run_dirs():
        if path.name == str(run_id(_run)):
            continue
        try:
            record = load_run_dir(path)
        except RecordError:
            continue  # a corrupt run cannot be the one that trained model_dir; `reproml` names it
        trained = record.info.get("model_dir")
        if (
            record.raw.get("command") in TRAINING_COMMANDS
            and trained is not None
            and str(Path(trained).resolve()) == wanted
        ):
            found = record.run_id
    if found is None:
        raise ConfigError(
            "drift.monitors",
            f"the id of the training run of model_dir {wanted} (no run in {store} trained it; "
            "pass drift.monitors=ID, or -R the store that holds it)",
            None,
        )
    return found


def log_report(_run: Any, report: DriftReport, tensorboard_dir: str | os.PathLike | None) -> None:
    """Log every window's scalars as Sacred metrics (step = window) and TensorBoard events."""
    scalars: list[tuple[str, float, int]] = []
    for w in report.windows:
        scalars += [
            ("drift.distance", w.distance, w.window),
            ("drift.mmd2", w.mmd2, w.window),
            ("drift.p_value", w.p_value, w.window),
            ("drift.flagged", float(w.flagged), w.window),
            ("drift.size", float(w.size), w.window),
        ]
        if w.accuracy is not None:
            scalars.append(("drift.accuracy", w.accuracy, w.window))
        scalars += [
            (f"drift.class.{name}.distance", value, w.window)
            for name, value in w.class_distances.items()
            if value is not None
        ]
    for name, value, step in scalars:
        _run.log_scalar(name, float(value), int(step))
    if tensorboard_dir is None:
        return
    import tensorflow as tf

    writer = tf.summary.create_file_writer(str(tensorboard_dir))
    with writer.as_default():
        for name, value, step in scalars:
            tf.summary.scalar(name.replace(".", "/"), float(value), step=int(step))
    writer.close()


def served_checkpoint(_run: Any, monitors: str | None, estimator: Any) -> tuple[str, str]:
    """Return the checkpoint to embed with, and why it was chosen.

    The monitored run's best checkpoint (the one it exported and serves) when it recorded one
    that still exists, else the latest checkpoint of model_dir.

    Raises:
      ConfigError: model_dir has no checkpoint.
    """
    run_dir = _run.info.get("run_dir")
    if run_dir and monitors is not None:
        info = load_run_dir(Path(run_dir).parent / str(monitors)).info
        best = (info.get("best_checkpoint") or {}).get("path")
        if best and Path(f"{best}.index").is_file():
            return str(best), f"best_checkpoint of run {monitors}"
    latest = estimator.latest_checkpoint()
    if latest is None:
        raise ConfigError(
            "model_dir", "the model_dir of a trained run (a checkpoint)", estimator.model_dir
        )
    return latest, "latest checkpoint of model_dir"


def drift_run(
    _run: Any,
    estimator: Any,
    class_names: list[str],
    baseline: Any,
    production: Any,
    *,
    monitors: str | int | None,
    window_size: int | None,
    window_seconds: float,
    alpha: float,
    num_permutations: int,
    max_baseline: int,
    num_farthest: int,
    seed: int,
) -> dict[str, Any]:
    """Run a drift command: embed, test every window, log, save the PNGs and the JSON.

    Args:
      _run: the Sacred run (records everything listed in the module docstring).
      estimator: the classifier of the monitored run's model_dir.
      class_names: the classifier's class names.
      baseline: the baseline `ImageBatch` (held out from training).
      production: the production `ImageBatch`, in stream order.
      monitors: the training run's id, or None to find it by model_dir (`monitored_run`).
      window_size: images per window in record order; None: timestamp windows.
      window_seconds: the length of a timestamp window (`assign_windows`).
      alpha: the report's false-alarm rate (`drift_report`).
      num_permutations: permutations of each window's test.
      max_baseline: baseline embeddings in each test.
      seed: seeds the baseline subset and the permutations.
      num_farthest: images in the farthest-from-baseline grid.

    Returns:
      ``{"flagged_windows": [...], "windows": W}`` (the run's result).
    """
    import json

    from reproml.drift.monitor import assign_windows, drift_report  # heavy: SciPy, scikit-learn
    from reproml.drift.projection import save_label_projection  # heavy: TensorFlow, UMAP
    from reproml.drift.report import (  # heavy: matplotlib
        save_drift_curve,
        save_farthest_images,
        save_projection,
    )

    run_id = monitored_run(_run, estimator.model_dir, monitors)
    _run.info["monitors"] = run_id
    checkpoint, why = served_checkpoint(_run, run_id, estimator)
    base = embed_images(estimator, baseline, checkpoint_path=checkpoint)
    prod = embed_images(estimator, production, checkpoint_path=checkpoint)
    windows, windowing = assign_windows(
        prod.data, window_size=window_size, window_seconds=window_seconds
    )
    report = drift_report(
        base,
        prod,
        windows,
        class_names,
        windowing=windowing,
        alpha=alpha,
        num_permutations=num_permutations,
        max_baseline=max_baseline,
        seed=seed,
    )
    run_dir = _run.info.get("run_dir")
    events = str(Path(run_dir) / "drift_tensorboard") if run_dir else None
    log_report(_run, report, events)
    if events:
        _run.info["tensorboard"] = (
            f"tensorboard --logdir_spec train:{estimator.model_dir},drift:{events}"
        )
    flagged = report.flagged_windows
    _run.info["drift"] = {
        "checkpoint": checkpoint,
        "checkpoint_from": why,
        "baseline": baseline.source,
        "production": production.source,
        "windowing": windowing,
        "num_windows": len(report.windows),
        "flagged_windows": flagged,
        "alpha": report.alpha,
        "alpha_per_window": report.alpha_per_window,
        "test": "MMD (RBF, median heuristic), permutation p-value, Bonferroni over windows",
    }
    for name, save in (
        ("drift_projection.png", lambda p: save_projection(base, prod, windows, flagged, p)),
        # Both samples by dataset, predicted and actual label, correctness: UMAP and PCA.
        (
            "drift_umap.png",
            lambda p: save_label_projection(base, prod, class_names, p, method="umap", seed=seed),
        ),
        (
            "drift_pca_labels.png",
            lambda p: save_label_projection(base, prod, class_names, p, method="pca", seed=seed),
        ),
        ("drift_curve.png", lambda p: save_drift_curve(report, p)),
        (
            "drift_farthest.png",
            lambda p: save_farthest_images(base, prod, windows, class_names, p, count=num_farthest),
        ),
    ):
        rx.add_file_artifact(_run, save(rx.new_artifact_path(_run, name)))
    path = save_embeddings(prod, rx.new_artifact_path(_run, "drift_embeddings.npz"))
    rx.add_file_artifact(_run, path)  # the production embeddings the report compared
    path = rx.new_artifact_path(_run, "drift_windows.json")
    path.write_text(json.dumps(report.to_json(), indent=2))
    rx.add_file_artifact(_run, path)
    result = {"flagged_windows": flagged, "windows": len(report.windows)}
    rx.print_run_summary(_run, "flagged windows", f"{flagged} of {len(report.windows)}")
    return result
