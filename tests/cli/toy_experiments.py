"""Two tiny real Sacred experiments that record what reproml experiments record.

`make_classifier_experiment` logs ``train.loss`` / ``train.steps_per_sec`` per step and
``eval.accuracy`` / ``eval.mean_precision`` / ``eval.mean_recall`` / ``eval.loss``, sets the
documented info keys (dataset, model, model_dir, code) and adds the code diff artifact. Its
numbers come from a RandomState seeded by Sacred's seed, so the same seed gives the same run.
`make_gan_experiment` logs ``eval.frechet_distance`` and returns it.
"""

# Sacred config scopes assign locals that Sacred reads, which ruff sees as unused.
# ruff: noqa: F841
from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from sacred import Experiment

from reproml.records.manifest import Manifest, SchemaEntry, ShardInfo, SplitInfo
from reproml.records.spec import FeatureSpec
from reproml.runs.code_state import CodeState


def write_toy_records(record_dir: Path, payload: bytes = b"0123456789" * 8) -> str:
    """Writes one shard and its manifest; returns the fingerprint."""
    record_dir.mkdir(parents=True, exist_ok=True)
    shard = record_dir / "train-00000.tfrecord"
    shard.write_bytes(payload)
    manifest = Manifest(
        record_pattern="{split}-{idx:05d}.tfrecord",
        compression=None,
        samples_per_record=10,
        schema={
            "image": SchemaEntry(
                "digit",
                "handlers.image.ImageArrayHandler",
                FeatureSpec("tensor_bytes", "uint8", (8, 8, 1)),
            )
        },
        splits={
            "train": SplitInfo(
                10, [ShardInfo(shard.name, len(payload), 10, hashlib.sha256(payload).hexdigest())]
            )
        },
        source={"kind": "toy"},
    )
    manifest.fingerprint = manifest.compute_fingerprint()
    manifest.save(record_dir)
    return manifest.fingerprint


def _record_common(_run, record_dir: Path, code: CodeState, network: str, tmp: Path) -> None:
    from reproml.records.manifest import load_manifest

    _run.info["dataset"] = {
        "name": "toy-digits",
        "record_dir": str(record_dir),
        "fingerprint": load_manifest(record_dir).fingerprint,
        "source": {"kind": "toy"},
    }
    _run.info["model"] = network
    _run.info["model_dir"] = str(tmp / f"model-{_run._id}")
    diff = tmp / f"code-{time.monotonic_ns()}.diff"
    diff.write_bytes(code.diff)
    _run.add_artifact(str(diff), "code.diff")
    _run.info["code"] = {
        "commit": code.commit,
        "dirty": bool(code.diff),
        "diff_artifact": "code.diff",
    }


def make_classifier_experiment(
    record_dir: Path,
    tmp: Path,
    code: Callable[[], CodeState],
    name: str = "toy",
    accuracy_offset: float = 0.0,
) -> Experiment:
    """A classifier-like experiment whose metrics depend only on the config and seed.

    `accuracy_offset` stands for a code change that moves the accuracy.
    """
    ex = Experiment(name, save_git_info=False)

    @ex.config
    def config():
        lr = 0.1  # learning rate
        optimizer = "sgd"  # optimizer name
        batch_size = 4  # examples per step
        steps = 6  # training steps
        network = "tiny_linear"  # network name
        fail = False  # raise after training (to record a FAILED run)

    @ex.main
    def main(_run, _seed, lr, optimizer, batch_size, steps, network, fail):
        rng = np.random.RandomState(_seed)
        loss = 2.0
        for step in range(1, steps + 1):
            loss = float(loss * (1.0 - lr) + rng.uniform(0, 0.01))
            _run.log_scalar("train.loss", loss, step)
            _run.log_scalar("train.steps_per_sec", 1000.0 / (1 + time.perf_counter_ns() % 97), step)
        _record_common(_run, record_dir, code(), network, tmp)
        if fail:
            raise RuntimeError(f"loss diverged at step {steps}")
        accuracy = float(np.clip(1.0 - loss / 2.0 + rng.uniform(0, 0.05), 0, 1)) + accuracy_offset
        _run.log_scalar("eval.accuracy", accuracy, steps)
        _run.log_scalar("eval.mean_precision", accuracy - 0.01, steps)
        _run.log_scalar("eval.mean_recall", accuracy - 0.02, steps)
        _run.log_scalar("eval.loss", loss, steps)
        return accuracy

    return ex


def make_gan_experiment(
    record_dir: Path, tmp: Path, code: Callable[[], CodeState], name: str = "toy_gan"
) -> Experiment:
    """A GAN-like experiment: its result is a Fréchet distance."""
    ex = Experiment(name, save_git_info=False)

    @ex.config
    def config():
        lr = 0.0002  # generator and critic learning rate
        optimizer = "rmsprop"  # optimizer name
        batch_size = 8  # examples per step
        steps = 3  # training steps
        network = "toy_dcgan"  # network name

    @ex.main
    def main(_run, _seed, lr, steps, network):
        rng = np.random.RandomState(_seed)
        for step in range(1, steps + 1):
            _run.log_scalar("train.loss", float(rng.uniform(0, 1)), step)
        _record_common(_run, record_dir, code(), network, tmp)
        distance = float(100 * rng.uniform(0.5, 1.0))
        _run.log_scalar("eval.frechet_distance", distance, steps)
        return distance

    return ex
