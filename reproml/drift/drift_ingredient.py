"""The drift monitor as a Sacred ingredient: the ``drift.*`` config, its checks, the commands' work.

    from reproml.drift.drift_ingredient import drift as drift_ingredient, drift_command
    ex = rx.track(Experiment("mnist", ingredients=[dataset, drift_ingredient]))

    @ex.command
    def drift(seed):
        manifest = ensure_records()
        estimator, _ = classifier(manifest=manifest)
        return drift_command(estimator=estimator, manifest=manifest, seed=seed)

The experiment owns the classifier (``model_dir``, network, seed) and passes it in; everything
else the ``embed``, ``drift`` and ``scenario`` commands read is a ``drift.*`` entry::

    python -m experiments.mnist drift with model_dir=runs/1/model drift.production=prod.npz

Bad entries are refused before the command runs, each message naming the entry by its full
path (``drift.alpha``). Experiments' ``quick`` named configs set ``drift = QUICK``.
"""

# Sacred reads the local variables of config scopes: they are "unused" only to ruff.
# ruff: noqa: F841
from __future__ import annotations

import difflib
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sacred import Ingredient

from reproml.checks import int_at_least, optional_int_at_least
from reproml.drift.embeddings import embed_images, read_images, read_split, save_embeddings
from reproml.errors import ConfigError, UnknownConfigEntryError
from reproml.lazy import lazy_import
from reproml.models.data_contract import classifier_params_from_manifest
from reproml.records.manifest import Manifest, load_manifest
from reproml.tracking import experiment as rx
from reproml.tracking.records_read import read_records_in_run

drift_runs = lazy_import("reproml.drift.run")  # drift_run: the MMD tests (SciPy, scikit-learn)
scenarios = lazy_import("reproml.drift.scenario")  # build_scenario: degradations (SciPy)

drift = Ingredient("drift")

# The drift entries of every experiment's `quick` named config (tests, CI): a scenario of four
# windows from the 256 quick test digits, in its own data_dir, and enough permutations for
# alpha / 4 windows.
QUICK = {
    "num_permutations": 500,
    "scenario": {
        "data_dir": "data/mnist/quick-drift-scenario",
        "baseline_size": 128,
        "window_size": 32,
        "num_windows": 4,
        "degradations": [[1, "rotate", 60], [3, "blur", 2.5]],
    },
}


# The keys of ``drift.scenario``: its data_dir and the settings of `build_scenario`.
SCENARIO_KEYS = (
    "data_dir",
    "split",
    "baseline_size",
    "window_size",
    "num_windows",
    "degradations",
    "seed",
    "overwrite",
    "start_time",
    "window_seconds",
    "samples_per_record",
)


@drift.config
def config() -> None:
    """Configure the embed, drift and scenario commands (docs/drift.md)."""
    embed_from = None  # embed: a record dir or .npz; None: the dataset records
    embed_split = "test"  # embed: the split read from a record dir
    production = None  # drift: production images, a record dir (manifest.json) or .npz
    production_split = "production"  # drift: the split read when production is a record dir
    baseline = "test"  # drift: the baseline split (images held out from training)
    baseline_dir = None  # drift: record dir holding the baseline split; None: the dataset records
    window_size = None  # drift: images per window in record order; None: timestamp windows
    window_seconds = 3600  # drift: length of a timestamp window (seconds)
    alpha = 0.05  # drift: false-alarm rate of a whole report (Bonferroni over the windows)
    num_permutations = 2000  # drift: permutations of each window's MMD test
    max_baseline = 1000  # drift: baseline embeddings in each MMD test (all enter the mean)
    num_farthest = 32  # drift: production images in the farthest-from-baseline grid
    monitors = None  # drift: id of the training run of model_dir; None: found in the store
    scenario = dict(  # scenario: a production stream from the test split, degraded windows
        data_dir="data/mnist/drift-scenario",  # the scenario's records
        split="test",  # the dataset split it is drawn from
        baseline_size=2000,  # clean held-out images: the "baseline" split
        window_size=500,  # images per production window
        num_windows=12,  # production windows, one hour each
        degradations=[  # [window, kind, strength(, label)]: kinds rotate/blur/noise/contrast
            [3, "rotate", 30],
            [5, "blur", 1.0],
            [7, "noise", 0.25],
            [8, "contrast", 0.4],
            [10, "rotate", 180, 7],  # only the 7s, upside down
        ],
        seed=0,  # shuffle, window draws and noise
        overwrite=False,  # True: build again into a data_dir that holds records
    )


@drift.config_hook
def check_config(
    config: dict[str, Any], command_name: str, logger: logging.Logger
) -> dict[str, Any]:
    """Refuse bad drift entries before the command runs; every message names the entry."""
    check_drift_config(config[drift.path], command_name, drift.path)
    return {}


def check_drift_config(entries: Mapping[str, Any], command_name: str, path: str = "drift") -> None:
    """Refuse bad entries of the ingredient at `path` before an ``embed`` or ``drift`` command.

    Args:
      entries: the ingredient's config (``config["drift"]``).
      command_name: the command about to run; other commands are not checked.
      path: the ingredient's path, prefixed to the entry each message names.

    Raises:
      UnknownConfigEntryError: a ``scenario`` key `build_scenario` does not take (every
        command: Sacred only warns about a key added to a dict entry, e.g.
        ``drift.scenario.sed=3``, and the ``scenario`` command then failed with a traceback).
      ConfigError: ``embed_from`` not None or an existing path (``embed``); ``production``
        missing or not an existing path; ``window_size`` not None or an int >= 1;
        ``window_seconds`` not > 0; ``alpha`` not in (0, 1); ``num_permutations``,
        ``max_baseline`` or ``num_farthest`` not an int >= 1; ``baseline_dir`` not None or a
        directory; ``monitors`` not None or a run id (``drift``).
    """
    _check_scenario_keys(entries["scenario"], f"{path}.scenario")
    exists = "an existing record directory (manifest.json) or .npz file"
    if command_name == "embed":
        embed_from = entries["embed_from"]
        if embed_from is not None and not Path(str(embed_from)).expanduser().exists():
            raise ConfigError(
                f"{path}.embed_from", f"None (the dataset records) or {exists}", embed_from
            )
    if command_name != "drift":
        return
    production = entries["production"]
    if production is None or not Path(str(production)).expanduser().exists():
        raise ConfigError(f"{path}.production", exists, production)
    for entry in ("num_permutations", "max_baseline", "num_farthest"):
        int_at_least(f"{path}.{entry}", entries[entry])
    optional_int_at_least(
        f"{path}.window_size",
        entries["window_size"],
        expected="None (timestamp windows) or an int >= 1",
    )
    seconds = entries["window_seconds"]
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not seconds > 0:
        raise ConfigError(f"{path}.window_seconds", "a number of seconds > 0", seconds)
    alpha = entries["alpha"]
    if isinstance(alpha, bool) or not isinstance(alpha, int | float) or not 0 < alpha < 1:
        raise ConfigError(f"{path}.alpha", "a false-alarm rate in (0, 1)", alpha)
    baseline_dir = entries["baseline_dir"]
    if baseline_dir is not None and not Path(str(baseline_dir)).expanduser().is_dir():
        raise ConfigError(
            f"{path}.baseline_dir", "None (the dataset records) or a record directory", baseline_dir
        )
    monitors = entries["monitors"]
    if monitors is not None and not (isinstance(monitors, str | int) and str(monitors).strip()):
        raise ConfigError(
            f"{path}.monitors", "None (found by model_dir) or a training run id", monitors
        )


def _check_scenario_keys(scenario: Mapping[str, Any], path: str) -> None:
    """Raise UnknownConfigEntryError for the first key of `scenario` `build_scenario` lacks."""
    for key in sorted(set(scenario) - set(SCENARIO_KEYS)):
        close = difflib.get_close_matches(key, SCENARIO_KEYS, n=2, cutoff=0.6)
        raise UnknownConfigEntryError(
            f"{path}.{key}", scenario[key], [f"{path}.{name}" for name in close]
        )


@drift.capture
def embed_command(
    estimator: Any, manifest: Manifest, _run: Any, embed_from: str | None, embed_split: str
) -> list[int]:
    """Do an ``embed`` command: save the embeddings of ``drift.embed_from`` (embeddings.npz).

    Args:
      estimator: the experiment's classifier (its latest checkpoint embeds).
      manifest: the dataset records, read when ``drift.embed_from`` is None.
      embed_from: ``drift.embed_from``, a record dir or .npz; None: `manifest`'s records.
      embed_split: ``drift.embed_split``, the split read from a record dir.

    Returns:
      The embeddings' shape [N, D] (the command's result).
    """
    data = read_images(embed_from or manifest.record_dir, embed_split, f"{drift.path}.embed_from")
    embeddings = embed_images(estimator, data)
    path = save_embeddings(embeddings, rx.new_artifact_path(_run, "embeddings.npz"))
    rx.add_file_artifact(_run, path)
    shape = list(embeddings.embedding.shape)
    _run.info["embeddings"] = {"source": data.source, "shape": shape}
    rx.print_run_summary(_run, "embeddings", shape)
    return shape


@drift.capture
def drift_command(
    estimator: Any,
    manifest: Manifest,
    seed: int,
    _run: Any,
    production: str,
    production_split: str,
    baseline: str,
    baseline_dir: str | None,
    monitors: str | int | None,
    window_size: int | None,
    window_seconds: float,
    alpha: float,
    num_permutations: int,
    max_baseline: int,
    num_farthest: int,
) -> dict[str, Any]:
    """Do a ``drift`` command: compare production with baseline embeddings per window.

    A tracked run linked to the training run of the estimator's model_dir (`drift_run`).

    Args:
      estimator: the classifier of the monitored training run's model_dir.
      manifest: the dataset records (the baseline's when ``drift.baseline_dir`` is None).
      seed: the experiment's seed: the baseline subsets and the permutations.
      production: ``drift.production``, a record dir or .npz, in stream order.
      production_split: ``drift.production_split``, read when production is a record dir.
      baseline: ``drift.baseline``, the split of held-out images compared with.
      baseline_dir: ``drift.baseline_dir``, its record dir; None: `manifest`'s records.
      monitors: ``drift.monitors``, the training run's id; None: found by model_dir.
      window_size: ``drift.window_size``, images per window; None: timestamp windows.
      window_seconds: ``drift.window_seconds``, the length of a timestamp window.
      alpha: ``drift.alpha``, the report's false-alarm rate.
      num_permutations: ``drift.num_permutations``, permutations of each window's test.
      max_baseline: ``drift.max_baseline``, baseline embeddings in each test.
      num_farthest: ``drift.num_farthest``, images in the farthest-from-baseline grid.

    Returns:
      ``{"flagged_windows": [...], "windows": W}`` (the command's result).

    Raises:
      RecordError: a shard of the baseline or production records does not match its manifest
        (named; checked before anything is embedded, and again when the run ends).
    """
    for location, split in ((baseline_dir, baseline), (production, production_split)):
        if location is not None and Path(location).expanduser().is_dir():
            read_records_in_run(_run, location, load_manifest(location), [split])
    return drift_runs.drift_run(
        _run,
        estimator,
        classifier_params_from_manifest(manifest)["class_names"],
        read_split(baseline_dir or manifest, baseline),
        read_images(production, production_split, f"{drift.path}.production"),
        monitors=monitors,
        window_size=window_size,
        window_seconds=window_seconds,
        alpha=alpha,
        num_permutations=num_permutations,
        max_baseline=max_baseline,
        num_farthest=num_farthest,
        seed=seed,
    )


@drift.capture
def scenario_command(manifest: Manifest, _run: Any, scenario: dict[str, Any]) -> str:
    """Do a ``scenario`` command: write the ``drift.scenario`` records from `manifest`'s records.

    Args:
      manifest: the dataset records the scenario is drawn from.
      scenario: ``drift.scenario``: its ``data_dir`` and `build_scenario`'s settings.

    Returns:
      The scenario's record directory (the command's result).
    """
    settings = dict(scenario)
    out_dir = settings.pop("data_dir")
    built = scenarios.build_scenario(manifest, out_dir, **settings)
    _run.info["scenario"] = {"record_dir": str(Path(out_dir).resolve()), **built.source}
    print(f"{out_dir}: {built.fingerprint}")
    return str(out_dir)
