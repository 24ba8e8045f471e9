"""A (Wasserstein) GAN experiment in a few lines: its default config, validators and commands.

    ex = rx.track(Experiment("mnist_gan", ingredients=[dataset]))
    add_gan(ex, serialize_records)

    @ex.main
    def main(_run, _config):
        return train_gan(_run, _config, ensure_records())

`add_gan` gives the experiment every entry of `gan_config` (each with its comment; the
experiment's own config scopes and named configs override them), a config hook that checks
every entry (`GANHParams.from_config`) before anything runs, and the ``serialize`` command.
`train_gan` trains with an evaluation every ``eval_every`` steps; after each, the chief scores
generated images with the dataset's fixed evaluation classifier and logs a sample grid
(`reproml.recipes.gan.scorer`).
"""

# Sacred reads the local variables of config scopes: they are "unused" only to ruff.
# ruff: noqa: F841
from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from sacred import Experiment

from reproml.cluster.tf_config import is_chief
from reproml.recipes.gan import (
    GANHParams,
    fixed_evaluator,
    gan_estimator,
    gan_input_fns,
    scorer,
)
from reproml.records.manifest import Manifest
from reproml.tracking import experiment as rx
from reproml.train.loop import train_and_evaluate


def gan_config() -> None:
    """Configure a GAN run: WGAN-GP (the defaults of every GAN experiment)."""
    gan_type = "wgan_gp"  # "wgan" (weight clipping) or "wgan_gp" (gradient penalty)
    network = "dcgan"  # generator + critic network: a file in reproml/models/networks/
    gen_batch_norm = True  # generator: batch norm before each ReLU (else it ignores the noise)
    optimizer = "adam"  # optimizer of generator and critic: adam, sgd, rmsprop or adagrad
    lr = 3e-4  # learning rate of generator and critic
    adam_beta1 = 0.5  # Adam's beta1 (the WGAN-GP paper's 0.5)
    adam_beta2 = 0.9  # Adam's beta2 (the WGAN-GP paper's 0.9)
    rmsprop_decay = 0.9  # RMSProp's decay (TensorFlow's default)
    critic_steps = 5  # critic updates per generator update
    clip_value = 0.01  # "wgan": critic weights are clipped to [-clip_value, clip_value]
    gradient_penalty_weight = 10.0  # "wgan_gp": weight of the gradient penalty
    noise_dims = 64  # length of the generator's noise vector
    batch_size = 32  # real images per batch
    steps = 2000  # global step to train to (a resumed run continues to it)
    eval_every = 1000  # training steps between evaluations (changes results: see docs/models.md)
    eval_batches = 50  # test batches behind the eval losses (None: the whole test split)
    log_every = 50  # training steps between train.loss / train.steps_per_sec logs
    num_fid_samples = 1000  # generated and real test images behind every score (recorded)
    num_samples = 36  # generated images in each logged sample grid (a 6x6 grid)
    evaluator_dir = None  # evaluation classifiers' cache; None: $REPROML_EVALUATOR_DIR or ~/.cache
    evaluator_steps = 1000  # training steps of the evaluation classifier (part of its identity)
    model_dir = None  # checkpoints + TensorBoard events; None: <run dir>/model. Reuse to resume
    seed = 42  # Sacred's seed; also the TF graph seed (RunConfig.tf_random_seed)


def check_gan_config(
    config: dict[str, Any], command_name: str, logger: logging.Logger
) -> dict[str, Any]:
    """Refuse bad values before anything runs (Sacred config hook); every message names the entry.

    Raises:
      ConfigError: a bad entry (`GANHParams.from_config`).
    """
    GANHParams.from_config(config)
    return {}


def train_gan(_run: Any, config: Mapping[str, Any], manifest: Manifest) -> float:
    """Train and score a GAN on `manifest`'s images; return its last Fréchet distance.

    Only the chief (one process, or the task that records a cluster job) scores.

    Args:
      _run: the Sacred run.
      config: the run's config (``_config``).
      manifest: the records (the dataset ingredient's ``ensure_records()``).

    Returns:
      The Fréchet distance of the last evaluation (lower is better).
    """
    hparams = GANHParams.from_config(config)
    estimator = gan_estimator(_run, manifest, hparams)
    scoring = None
    if is_chief():
        evaluator, reference = fixed_evaluator(
            _run, manifest, hparams.evaluator_dir, hparams.evaluator_steps, hparams.num_fid_samples
        )
        scoring = scorer(
            _run,
            estimator,
            evaluator,
            reference,
            num_fid_samples=hparams.num_fid_samples,
            num_samples=hparams.num_samples,
            noise_dims=hparams.noise_dims,
            seed=hparams.seed,
        )
    metrics = train_and_evaluate(
        _run,
        estimator,
        *gan_input_fns(manifest, hparams.batch_size, hparams.noise_dims, hparams.seed),
        steps=hparams.steps,
        eval_every=hparams.eval_every,
        log_every=hparams.log_every,
        eval_steps=hparams.eval_batches,
        after_evaluation=scoring,
    )
    distance = float(metrics["frechet_distance"])
    rx.print_run_summary(_run, "Fréchet distance", distance)
    return distance


def add_gan(ex: Experiment, serialize_records: Callable[[], str]) -> Experiment:
    """Give `ex` the GAN config, its validators and the ``serialize`` command.

    Call it right after creating the experiment, before its own config scopes (they override
    `gan_config`'s entries).

    Args:
      ex: the (tracked) experiment.
      serialize_records: the dataset ingredient's ``serialize`` work (returns a fingerprint).

    Returns:
      `ex`.
    """
    ex.config(gan_config)
    ex.config_hook(check_gan_config)

    def serialize() -> str:
        """Serialize the records (if missing) and record the dataset; returns its fingerprint."""
        return serialize_records()

    ex.command(serialize)
    return ex
