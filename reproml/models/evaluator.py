"""The fixed evaluation classifier behind every GAN score: one per dataset, trained once.

    evaluator = load_or_train_evaluator(manifest)          # trained on the first call, then reused
    reference = evaluator.reference(manifest, 1000)        # real test images, embedded once
    scores = evaluator.scores(generated_uint8, reference)  # frechet_distance, mnist_score, ...
    _run.info["evaluator"] = evaluator.info(1000)

GAN scores are only comparable when they come from the same classifier and the same number of
samples. So the classifier is not trained by each run: it is trained once per dataset
(`dataset fingerprint`) and evaluator config, deterministically (graph seed + op determinism,
records read in a seeded order), on the dataset's train split, and cached in
``<root>/<dataset fingerprint[:16]>-<config hash[:8]>/`` (root: ``$REPROML_EVALUATOR_DIR``, else
``~/.cache/reproml/evaluators``). It is trained in a temporary directory that is renamed into
place only once complete, so a crashed training never leaves a half evaluator.

Its identity is its fingerprint: sha256 over its config and the sha256 of each checkpoint file
(``evaluator.json`` stores both). Every load re-hashes the files; a cached evaluator whose files,
config or dataset do not match what ``evaluator.json`` says is refused (`RecordError`, naming the
file and how to retrain), never used. Runs record ``info["evaluator"]`` (`Evaluator.info`):
fingerprint, dataset fingerprint, test accuracy and the number of samples of the scores.

On a ``TF_CONFIG`` cluster (`reproml.cluster`) the evaluator is still one process's classifier:
its Estimator is built with ``TF_CONFIG`` hidden (`tf_config_hidden`) and no strategy, so it
trains, evaluates and predicts locally, with the fingerprint a single process gets. Only the
chief (the task that scores the GAN and records the run) trains it; any other task
(worker, ps, evaluator) never trains it but waits for the chief's in the cache, which must then
be a directory every task reaches (`EVALUATOR_ENV`), and fails after `WAIT_SECS` naming it.
Training holds an exclusive lock (``<root>/.<name>.lock``), so two processes sharing a cache
(two tasks, two jobs) never train the same evaluator at once: the second waits, then reuses it.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf

from reproml.checks import int_at_least
from reproml.cluster.distribution import start_cluster_runtime
from reproml.cluster.tf_config import cluster_task, tf_config_hidden
from reproml.errors import ConfigError, RecordError
from reproml.models.classifier import make_classifier
from reproml.models.data_contract import classifier_params_from_manifest
from reproml.models.frechet import (
    class_entropy,
    classifier_score,
    frechet_distance,
    images_input_fn,
    mean_pairwise_distance,
)
from reproml.records.file_hash import file_sha256
from reproml.records.manifest import Manifest
from reproml.records.reader import input_fn

EVALUATOR_ENV = "REPROML_EVALUATOR_DIR"
META_FILE = "evaluator.json"
# The evaluator's config: the `cnn` classifier with its default params, trained this long.
DEFAULT_STEPS = 1000
DEFAULT_BATCH_SIZE = 64
DEFAULT_SEED = 0
SCORE_NAMES = ("frechet_distance", "mnist_score", "class_entropy", "pairwise_distance")
# Seconds a cluster task other than the chief waits for the chief's evaluator in the cache.
WAIT_SECS = 3600.0


def default_root() -> Path:
    """Return the evaluator cache: ``$REPROML_EVALUATOR_DIR``, else ``~/.cache/reproml/evaluators``."""
    env = os.environ.get(EVALUATOR_ENV)
    return Path(env) if env else Path.home() / ".cache" / "reproml" / "evaluators"


def evaluator_config(
    steps: int = DEFAULT_STEPS, batch_size: int = DEFAULT_BATCH_SIZE, seed: int = DEFAULT_SEED
) -> dict[str, Any]:
    """Return the evaluator config (part of its fingerprint and cache key).

    Raises:
      ConfigError: `steps`, `batch_size` not positive ints, or `seed` not a non-negative int.
    """
    int_at_least("evaluator_steps", steps)
    int_at_least("batch_size", batch_size)
    int_at_least("seed", seed, 0, expected="a non-negative int")
    return {"network": "cnn", "steps": steps, "batch_size": batch_size, "seed": seed}


def _config_hash(config: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(dict(config), sort_keys=True).encode()).hexdigest()


def evaluator_fingerprint(config: Mapping[str, Any], file_hashes: Mapping[str, str]) -> str:
    """Return sha256 of the evaluator's `config` and its checkpoint files' sha256 (by name)."""
    digest = hashlib.sha256(json.dumps(dict(config), sort_keys=True).encode())
    for name in sorted(file_hashes):
        digest.update(f"\n{name} {file_hashes[name]}".encode())
    return digest.hexdigest()


def _checkpoint_files(directory: Path, checkpoint: str) -> dict[str, str]:
    """Return ``{file name: sha256}`` of the variables of `checkpoint` (e.g. "model.ckpt-1000").

    Only the ``.index`` and ``.data-*`` files: the values restored. (The ``.meta`` graph is
    rebuilt from code and holds the temporary training directory's name.)
    """
    names = sorted(
        p.name
        for p in directory.glob(f"{checkpoint}.*")
        if p.name.endswith(".index") or ".data-" in p.name
    )
    return {name: file_sha256(directory / name)[1] for name in names}


@dataclass
class Evaluator:
    """A verified evaluation classifier: its checkpoint, identity and test accuracy."""

    directory: Path
    fingerprint: str
    dataset_fingerprint: str
    config: dict[str, Any]
    checkpoint: str
    test_accuracy: float
    num_classes: int
    estimator: tf.estimator.Estimator = field(repr=False)

    def info(self, num_samples: int) -> dict[str, Any]:
        """Return what a run records as ``info["evaluator"]`` for scores over `num_samples`."""
        return {
            "fingerprint": self.fingerprint,
            "dataset_fingerprint": self.dataset_fingerprint,
            "test_accuracy": self.test_accuracy,
            "num_samples": int(num_samples),
            "config": dict(self.config),
            "directory": str(self.directory),
        }

    def outputs(self, fn: Callable[[], tf.data.Dataset], count: int) -> dict[str, np.ndarray]:
        """Return the first `count` ``embedding``, ``probabilities``, ``class_ids`` of `fn`.

        Raises:
          ConfigError: the input holds fewer than `count` images.
        """
        keys = ["embedding", "probabilities", "class_ids"]
        checkpoint = str(self.directory / self.checkpoint)
        rows = list(
            islice(self.estimator.predict(fn, keys, checkpoint_path=checkpoint), int(count))
        )
        if len(rows) < count:
            raise ConfigError("num_fid_samples", f"at most {len(rows)} (the input's size)", count)
        return {key: np.stack([row[key] for row in rows]) for key in keys}

    def reference(self, manifest: Manifest, count: int, split: str = "test") -> dict[str, Any]:
        """Return the first `count` real `split` images' outputs, and their own scores.

        ``scores`` are those of the real images themselves (what a perfect generator reaches),
        with the Fréchet distance to as many real *train* images: the floor at this count.
        """
        real = self.outputs(input_fn(split, 256, manifest, n_epochs=1, shuffle=False), count)
        train = self.outputs(input_fn("train", 256, manifest, n_epochs=1, shuffle=False), count)
        images = next_images(manifest, split, count)
        scores = self._scores(real, images, real["embedding"])
        scores["frechet_distance"] = frechet_distance(train["embedding"], real["embedding"])
        return {"embedding": real["embedding"], "count": int(count), "scores": scores}

    def scores(self, images: np.ndarray, reference: Mapping[str, Any]) -> dict[str, float]:
        """Return `SCORE_NAMES` of uint8 `images` [N, H, W, C] against a `reference`.

        Raises:
          ValueError: `images` are not as many as the reference's real images.
        """
        if len(images) != reference["count"]:
            raise ValueError(
                f"images: expected {reference['count']} (the reference's count), got {len(images)}"
            )
        outputs = self.outputs(images_input_fn(np.asarray(images)), len(images))
        return self._scores(outputs, images, reference["embedding"])

    def _scores(
        self, outputs: Mapping[str, np.ndarray], images: np.ndarray, real_embedding: np.ndarray
    ) -> dict[str, float]:
        log_p = np.log(np.clip(outputs["probabilities"].astype(np.float64), 1e-30, None))
        return {
            "frechet_distance": frechet_distance(real_embedding, outputs["embedding"]),
            "mnist_score": classifier_score(log_p),
            "class_entropy": class_entropy(outputs["class_ids"], self.num_classes),
            "pairwise_distance": mean_pairwise_distance(images),
        }


def next_images(manifest: Manifest, split: str, count: int) -> np.ndarray:
    """Return the first `count` uint8 images of `split`, in record order."""
    dataset = input_fn(split, 256, manifest, n_epochs=1, shuffle=False, label_key=None)()
    batches, total = [], 0
    for features in dataset:
        batch = features["image"] if isinstance(features, dict) else features[0]["image"]
        batches.append(batch.numpy())
        total += len(batches[-1])
        if total >= count:
            break
    return np.concatenate(batches)[:count]


def evaluator_directory(manifest: Manifest, config: Mapping[str, Any], root: Path) -> Path:
    """Return the cache directory of the evaluator of `manifest`'s dataset and `config`."""
    return Path(root) / f"{manifest.fingerprint[:16]}-{_config_hash(config)[:8]}"


def load_evaluator(
    directory: str | os.PathLike, manifest: Manifest, config: Mapping[str, Any]
) -> Evaluator:
    """Load and verify the evaluator in `directory` for `manifest`'s dataset and `config`.

    Raises:
      RecordError: ``evaluator.json`` is missing or unreadable, was made for another dataset or
        config, or a checkpoint file is missing or its sha256 (hence the fingerprint) differs.
    """
    directory = Path(directory)
    meta_path = directory / META_FILE
    fix = f"delete {directory} to train the evaluator again"
    try:
        meta = json.loads(meta_path.read_text())
        recorded_files = dict(meta["files"])
        checkpoint, fingerprint = str(meta["checkpoint"]), str(meta["fingerprint"])
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise RecordError(meta_path, f"not a readable evaluator record ({error})", fix) from error
    if meta.get("dataset_fingerprint") != manifest.fingerprint:
        problem = (
            f"made for dataset {meta.get('dataset_fingerprint')}, "
            f"not {manifest.fingerprint} (this run's records)"
        )
        raise RecordError(meta_path, problem, fix)
    if meta.get("config") != dict(config):
        raise RecordError(meta_path, f"made with config {meta.get('config')}, not {config}", fix)
    if not recorded_files:
        raise RecordError(meta_path, "lists no checkpoint files", fix)
    actual = _checkpoint_files(directory, checkpoint)
    for name, sha256 in sorted(recorded_files.items()):
        if name not in actual:
            raise RecordError(directory / name, "missing (a file of the evaluator)", fix)
        if actual[name] != sha256:
            problem = f"sha256 {actual[name][:12]}… differs from the recorded {sha256[:12]}…"
            raise RecordError(directory / name, f"{problem}: the evaluator was modified", fix)
    if evaluator_fingerprint(config, actual) != fingerprint:
        raise RecordError(meta_path, "fingerprint does not match the checkpoint files", fix)
    params = classifier_params_from_manifest(manifest)
    return Evaluator(
        directory=directory,
        fingerprint=fingerprint,
        dataset_fingerprint=manifest.fingerprint,
        config=dict(config),
        checkpoint=checkpoint,
        test_accuracy=float(meta["test_accuracy"]),
        num_classes=int(params["num_classes"]),
        estimator=one_process_classifier(directory, params, int(config["seed"])),
    )


def one_process_classifier(
    model_dir: str | os.PathLike, params: Mapping[str, Any], seed: int
) -> tf.estimator.Estimator:
    """Return the evaluator's classifier Estimator as one process builds it, even on a cluster.

    Its RunConfig is made with ``TF_CONFIG`` hidden and no ``train_distribute``: no strategy,
    no cluster master, so `Estimator.train` runs locally (a MultiWorkerMirroredStrategy refuses
    a bare ``train`` outside ``train_and_evaluate``: "Only STANDALONE_CLIENT mode is supported")
    and gives the same checkpoint, hence the same fingerprint, as a single process.
    """
    with tf_config_hidden():
        return make_classifier(model_dir, params, seed, train_distribute=None)


def train_evaluator(manifest: Manifest, config: Mapping[str, Any], directory: Path) -> Path:
    """Train the evaluator into a temporary directory, then rename it to `directory`.

    Returns:
      `directory` (if another process completed it first, its copy is kept and ours dropped).
    """
    directory.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{directory.name}-", dir=directory.parent))
    # TF_CONFIG hidden while it trains: its Estimator and its input (which would read only this
    # trainer's shards on a cluster) are exactly one process's.
    with tf_config_hidden():
        try:
            _train_into(manifest, config, tmp, directory)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
    return directory


def _train_into(manifest: Manifest, config: Mapping[str, Any], tmp: Path, directory: Path) -> None:
    """Train, test and record the evaluator in `tmp`, then rename it to `directory`."""
    params = classifier_params_from_manifest(manifest)
    seed = int(config["seed"])
    classifier = one_process_classifier(tmp, params, seed)
    train = input_fn("train", int(config["batch_size"]), manifest, random_seed=seed)
    classifier.train(train, max_steps=int(config["steps"]))
    test = input_fn("test", 256, manifest, n_epochs=1, shuffle=False)
    accuracy = float(classifier.evaluate(test, name="evaluator_test")["accuracy"])
    checkpoint = Path(classifier.latest_checkpoint()).name
    files = _checkpoint_files(tmp, checkpoint)
    meta = {
        "fingerprint": evaluator_fingerprint(config, files),
        "dataset_fingerprint": manifest.fingerprint,
        "config": dict(config),
        "checkpoint": checkpoint,
        "files": files,
        "test_accuracy": accuracy,
    }
    (tmp / META_FILE).write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
    try:
        tmp.rename(directory)
    except OSError:
        if not (directory / META_FILE).exists():
            raise


def load_or_train_evaluator(
    manifest: Manifest,
    root: str | os.PathLike | None = None,
    config: Mapping[str, Any] | None = None,
    log: Callable[[str], Any] = print,
    wait_secs: float = WAIT_SECS,
) -> Evaluator:
    """Return the verified evaluator of `manifest`'s dataset, training it first if not cached.

    One process (or the chief of a ``TF_CONFIG`` cluster) trains it under the cache's lock if no
    other process has; any other cluster task waits for the chief's (see the module docstring).

    Args:
      manifest: the records; the evaluator trains on their train split, is tested on "test".
      root: the cache directory (None: `default_root`).
      config: `evaluator_config(...)` (None: the defaults).
      log: called with one line when an evaluator is trained, waited for or reused.
      wait_secs: how long a cluster task other than the chief waits for the chief's evaluator.

    Raises:
      RecordError: the cached evaluator does not verify (see `load_evaluator`), or, on a cluster
        task other than the chief, the chief's evaluator did not appear within `wait_secs`.
    """
    config = dict(config or evaluator_config())
    directory = evaluator_directory(manifest, config, Path(root) if root else default_root())
    task = cluster_task()
    start_cluster_runtime(task)  # before the evaluator's eager work starts TensorFlow's runtime
    if task is not None and not task.is_chief and not directory.exists():
        log(f"{task.name}: waiting for the chief to train the evaluator into {directory}")
        _wait_for(directory, wait_secs)
    if not directory.exists():
        directory.parent.mkdir(parents=True, exist_ok=True)
        with _exclusive_lock(directory.parent / f".{directory.name}.lock"):
            if not directory.exists():  # else another process trained it while we waited
                log(
                    f"training the evaluator for dataset {manifest.fingerprint[:12]} into {directory}"
                )
                train_evaluator(manifest, config, directory)
                evaluator = load_evaluator(directory, manifest, config)
                accuracy = evaluator.test_accuracy
                log(f"evaluator {evaluator.fingerprint[:12]}: test accuracy {accuracy:.4f}")
                return evaluator
    evaluator = load_evaluator(directory, manifest, config)
    log(f"evaluator {evaluator.fingerprint[:12]} reused from {directory}")
    return evaluator


def _wait_for(directory: Path, wait_secs: float) -> None:
    """Wait until `directory` exists (renamed into place complete), or raise after `wait_secs`."""
    deadline = time.monotonic() + wait_secs
    while not directory.exists():
        if time.monotonic() > deadline:
            raise RecordError(
                directory,
                f"not trained by the chief within {wait_secs:g} s (only the chief of a cluster "
                "trains the evaluator; the other tasks wait for it in the cache)",
                f"set ${EVALUATOR_ENV} to a directory every task of the job reaches, or train "
                "the evaluator there first in one process",
            )
        time.sleep(1.0)


@contextlib.contextmanager
def _exclusive_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive ``flock`` on `path` (created if missing; left in place) inside the block."""
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def save_scored_grid(images: np.ndarray, path: str | os.PathLike, title: str) -> Path:
    """Write `images` [N, H, W, C] as a square-ish grid (ceil(sqrt(N)) columns) titled `title`."""
    import matplotlib.pyplot as plt

    from reproml.models.plots import image_grid  # heavy: matplotlib

    array = np.asarray(images)
    ncols = int(np.ceil(np.sqrt(len(array))))
    grid = image_grid(array, ncols=ncols)
    fig, ax = plt.subplots(figsize=(max(4.0, 0.42 * ncols + 1.0),) * 2, dpi=100)
    try:
        ax.imshow(grid[..., 0] if grid.shape[-1] == 1 else grid, cmap="gray", vmin=0, vmax=255)
        ax.axis("off")
        ax.set_title(title, fontsize=8)
        fig.tight_layout()
        path = Path(path)
        fig.savefig(path, format="png")
    finally:
        plt.close(fig)
    return path
