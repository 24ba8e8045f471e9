"""Wasserstein GAN on MNIST (weight clipping or gradient penalty), tracked by Sacred.

    python -m experiments.mnist_gan                  # WGAN with weight clipping (default)
    python -m experiments.mnist_gan with wgan_gp     # WGAN-GP (gradient penalty, Adam)
    python -m experiments.mnist_gan with quick       # tiny run (tests, CI)
    python -m experiments.mnist_gan print_config     # every entry with its comment

The result is the Fréchet distance between generated and real test images in the embedding
space of a small MNIST classifier (trained once next to the GAN unless `classifier_dir` is
given; lower is better). A grid of generated samples is logged at every evaluation.
"""

# Sacred reads the local variables of config scopes: they are "unused" only to ruff.
# ruff: noqa: F841
from __future__ import annotations

from pathlib import Path

from sacred import Experiment

from reproml.datasets.mnist_ingredient import QUICK, dataset, ensure_records, serialize_records
from reproml.errors import ConfigError
from reproml.models.checkpoint import latest_checkpoint
from reproml.models.classifier import make_classifier
from reproml.models.data_contract import classifier_params_from_manifest, gan_params_from_manifest
from reproml.models.frechet import (
    classifier_embeddings,
    frechet_distance,
    images_input_fn,
    to_uint8_images,
)
from reproml.models.networks import available_networks
from reproml.models.optimizers import OPTIMIZERS
from reproml.models.plots import save_image_grid
from reproml.models.wgan import GAN_TYPES, gan_input_fn, generate, make_gan_estimator
from reproml.records.reader import input_fn
from reproml.tracking import experiment as rx

ex = rx.track(Experiment("mnist_gan", ingredients=[dataset]))


@ex.config
def config():
    """Configure the default run: WGAN with weight clipping on MNIST."""
    gan_type = "wgan"  # "wgan" (weight clipping) or "wgan_gp" (gradient penalty)
    network = "dcgan"  # generator + critic network: a file in reproml/models/networks/
    optimizer = "rmsprop"  # optimizer of generator and critic: adam, sgd, rmsprop or adagrad
    lr = 5e-5  # learning rate of generator and critic
    critic_steps = 5  # critic updates per generator update
    clip_value = 0.01  # "wgan": critic weights are clipped to [-clip_value, clip_value]
    gradient_penalty_weight = 10.0  # "wgan_gp": weight of the gradient penalty
    noise_dims = 64  # length of the generator's noise vector
    batch_size = 32  # real images per batch
    steps = 2000  # global step to train to (a resumed run continues to it)
    eval_every = 500  # training steps between evaluations (losses, Fréchet distance, samples)
    log_every = 50  # training steps between train.loss / train.steps_per_sec logs
    num_fid_samples = 500  # real and generated test images behind the Fréchet distance
    num_samples = 36  # generated images in each logged sample grid
    classifier_dir = None  # a trained classifier's model_dir; None: <model_dir>/fid_classifier
    classifier_steps = 500  # training steps of that classifier when it is trained here
    model_dir = None  # checkpoints + TensorBoard events; None: <run dir>/model. Reuse to resume
    seed = 42  # Sacred's seed; also the TF graph seed (RunConfig.tf_random_seed)


@ex.named_config
def wgan():
    """Use weight clipping and RMSProp, as in the original WGAN paper."""
    gan_type = "wgan"  # weight clipping
    optimizer = "rmsprop"  # momentum-free, as weight clipping needs
    lr = 5e-5  # the paper's learning rate


@ex.named_config
def wgan_gp():
    """Use the gradient penalty and Adam, as in the WGAN-GP paper."""
    gan_type = "wgan_gp"  # gradient penalty instead of clipping
    optimizer = "adam"  # Adam works with the penalty
    lr = 1e-4  # the paper's learning rate


@ex.named_config
def quick():
    """Make a tiny run for tests and CI (digits fallback, no download)."""
    dataset = dict(QUICK)  # the records of every quick run: 256 digits per split, no download
    batch_size = 16  # small batches
    critic_steps = 1  # one critic step per generator step
    steps = 6  # a few steps
    eval_every = 3  # two evaluations
    log_every = 2  # a metric point every 2 steps
    num_fid_samples = 32  # a rough Fréchet distance
    num_samples = 9  # a 3x3 grid
    classifier_steps = 5  # a barely trained classifier is enough for a test


@ex.config_hook
def check_config(config, command_name, logger):
    """Refuse bad values before anything runs; every message names the entry."""
    rx.check_positive_int(config, "batch_size", "steps", "eval_every", "log_every")
    rx.check_positive_int(config, "num_samples", "noise_dims", "critic_steps", "classifier_steps")
    rx.check_positive_number(config, "lr", "clip_value", "gradient_penalty_weight")
    rx.check_choice(config, "gan_type", GAN_TYPES)
    rx.check_choice(config, "optimizer", sorted(OPTIMIZERS))
    rx.check_choice(config, "network", available_networks("generator"))
    classifier_dir = config["classifier_dir"]
    if classifier_dir is not None and not latest_checkpoint(classifier_dir):
        raise ConfigError(
            "classifier_dir", "None or a trained classifier's model_dir", classifier_dir
        )
    rx.check_positive_int(config, "num_fid_samples")
    if config["num_fid_samples"] < 2:
        raise ConfigError("num_fid_samples", "an int >= 2", config["num_fid_samples"])
    rx.check_seed(config)
    return {}


@ex.capture
def gan_estimator(
    _run,
    manifest,
    model_dir,
    gan_type,
    network,
    optimizer,
    lr,
    critic_steps,
    clip_value,
    gradient_penalty_weight,
    noise_dims,
    seed,
    log_every,
):
    """Return the seeded GANEstimator for the images of `manifest`, and its model_dir."""
    model_dir = rx.model_dir_for(_run, model_dir)
    _run.info["model"] = network
    rx.record_tensorboard(_run, model_dir)
    params = gan_params_from_manifest(manifest, network=network)  # the records' image shape
    params.update(gan_type=gan_type, network=network, critic_steps=critic_steps)
    params.update(generator_optimizer=optimizer, critic_optimizer=optimizer)
    params.update(generator_lr=lr, critic_lr=lr, clip_value=clip_value, noise_dims=noise_dims)
    params.update(gradient_penalty_weight=gradient_penalty_weight)
    estimator = make_gan_estimator(model_dir, params, seed, save_summary_steps=log_every)
    return estimator, model_dir


@ex.capture
def embedding_classifier(manifest, model_dir, classifier_dir, classifier_steps, seed):
    """Return the classifier whose embeddings the Fréchet distance compares (trained if new)."""
    directory = classifier_dir or str(Path(model_dir) / "fid_classifier")
    classifier = make_classifier(directory, classifier_params_from_manifest(manifest), seed)
    if classifier.latest_checkpoint() is None:
        classifier.train(input_fn("train", 64, manifest), max_steps=classifier_steps)
    return classifier


@ex.main
def main(
    _run, batch_size, noise_dims, steps, eval_every, log_every, num_fid_samples, num_samples, seed
):
    """Serialize the records if missing, train the GAN; the result is the last Fréchet distance."""
    manifest = ensure_records()
    estimator, model_dir = gan_estimator(manifest=manifest)
    classifier = embedding_classifier(manifest=manifest, model_dir=model_dir)
    real_fn = input_fn("test", 64, manifest, n_epochs=1, shuffle=False)
    real = classifier_embeddings(classifier, real_fn, num_fid_samples)

    def after_evaluation(step, metrics):
        generated = to_uint8_images(generate(estimator, num_fid_samples, noise_dims, seed))
        fake = classifier_embeddings(classifier, images_input_fn(generated), num_fid_samples)
        metrics["frechet_distance"] = frechet_distance(real, fake)
        _run.log_scalar("eval.frechet_distance", metrics["frechet_distance"], step)
        path = rx.new_artifact_path(_run, f"samples_step_{step:06d}.png")
        rx.add_file_artifact(_run, save_image_grid(generated[:num_samples], path))

    metrics = rx.train_and_evaluate(
        _run,
        estimator,
        gan_input_fn(input_fn("train", batch_size, manifest), noise_dims, seed),
        gan_input_fn(input_fn("test", batch_size, manifest, n_epochs=1), noise_dims, seed + 1),
        steps=steps,
        eval_every=eval_every,
        log_every=log_every,
        after_evaluation=after_evaluation,
    )
    distance = float(metrics["frechet_distance"])
    rx.print_run_summary(_run, "Fréchet distance", distance)
    return distance


@ex.command
def serialize():
    """Serialize the records (if missing) and record the dataset; returns its fingerprint."""
    return serialize_records()


if __name__ == "__main__":
    rx.run_commandline(ex)
