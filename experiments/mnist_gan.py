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

from experiments.mnist import write_mnist_records
from reproml.models.classifier import make_classifier
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
from reproml.tracking.record import record_dataset

ex = rx.ReproExperiment("mnist_gan")


@ex.config
def config():
    """Configure the default run: WGAN with weight clipping on MNIST."""
    data_dir = "data/mnist/records"  # TFRecords + manifest.json (shared with experiments.mnist)
    data_path = None  # a Keras-layout mnist.npz to serialize; None: cached/downloaded MNIST
    allow_download = True  # download MNIST (sha256-checked) if not cached; else digits fallback
    max_examples = None  # serialize at most this many examples per split (None: all)
    samples_per_record = 10000  # examples per TFRecord shard
    compression = None  # shard compression: None, "GZIP" or "ZLIB"
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
    allow_download = False  # never touch the network
    max_examples = 128  # 128 train and 128 test examples
    samples_per_record = 64  # two shards per split
    batch_size = 16  # small batches
    critic_steps = 1  # one critic step per generator step
    steps = 6  # a few steps
    eval_every = 3  # two evaluations
    log_every = 2  # a metric point every 2 steps
    num_fid_samples = 32  # a rough Fréchet distance
    num_samples = 9  # a 3x3 grid
    classifier_steps = 5  # a barely trained classifier is enough for a test


@ex.validate
def check_config(config):
    """Refuse bad values before anything runs; every message names the entry."""
    rx.check_positive_int(config, "batch_size", "steps", "eval_every", "log_every")
    rx.check_positive_int(config, "samples_per_record", "num_samples", "noise_dims")
    rx.check_positive_int(config, "critic_steps", "classifier_steps")
    rx.check_positive_number(config, "lr", "clip_value", "gradient_penalty_weight")
    rx.check_choice(config, "gan_type", GAN_TYPES)
    rx.check_choice(config, "optimizer", sorted(OPTIMIZERS))
    rx.check_choice(config, "network", available_networks("generator"))
    rx.check_choice(config, "compression", [None, "GZIP", "ZLIB"])
    rx.check_existing_path(config, "data_path")
    rx.check_existing_path(config, "classifier_dir")
    if config["max_examples"] is not None:
        rx.check_positive_int(config, "max_examples")
    if config["num_fid_samples"] < 2:
        raise rx.ConfigError("num_fid_samples", "an int >= 2", config["num_fid_samples"])


@ex.capture
def serialize_mnist(
    data_dir, data_path, allow_download, max_examples, samples_per_record, compression
):
    """Write the records of this run's config (see `experiments.mnist.write_mnist_records`)."""
    return write_mnist_records(
        data_dir, data_path, allow_download, max_examples, samples_per_record, compression
    )


@ex.capture
def gan_estimator(
    _run,
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
    """Return the seeded GANEstimator and its model_dir (recorded in info)."""
    model_dir = rx.model_dir_for(_run, model_dir)
    params = {
        "gan_type": gan_type,
        "network": network,
        "generator_optimizer": optimizer,
        "critic_optimizer": optimizer,
        "generator_lr": lr,
        "critic_lr": lr,
        "critic_steps": critic_steps,
        "clip_value": clip_value,
        "gradient_penalty_weight": gradient_penalty_weight,
        "noise_dims": noise_dims,
    }
    _run.info["model"] = network
    rx.record_tensorboard(_run, model_dir)
    estimator = make_gan_estimator(model_dir, params, seed, save_summary_steps=log_every)
    return estimator, model_dir


@ex.capture
def embedding_classifier(model_dir, classifier_dir, classifier_steps, data_dir, seed):
    """Return the classifier whose embeddings the Fréchet distance compares (trained if new)."""
    directory = classifier_dir or str(Path(model_dir) / "fid_classifier")
    classifier = make_classifier(directory, None, seed)
    if classifier.latest_checkpoint() is None:
        classifier.train(input_fn("train", 64, data_dir), max_steps=classifier_steps)
    return classifier


@ex.main
def main(
    _run,
    data_dir,
    batch_size,
    noise_dims,
    steps,
    eval_every,
    log_every,
    num_fid_samples,
    num_samples,
    seed,
):
    """Serialize records if missing, train the GAN; the result is the last Fréchet distance."""
    rx.ensure_records(data_dir, serialize_mnist)
    record_dataset(_run, data_dir, "mnist")
    estimator, model_dir = gan_estimator(_run)
    classifier = embedding_classifier(model_dir)
    real = classifier_embeddings(
        classifier, input_fn("test", 64, data_dir, n_epochs=1, shuffle=False), num_fid_samples
    )

    def after_evaluation(step, metrics):
        generated = to_uint8_images(generate(estimator, num_fid_samples, noise_dims, seed))
        fake = classifier_embeddings(classifier, images_input_fn(generated), num_fid_samples)
        metrics["frechet_distance"] = frechet_distance(real, fake)
        _run.log_scalar("eval.frechet_distance", metrics["frechet_distance"], step)
        grid = save_image_grid(
            generated[:num_samples], rx.new_artifact_path(_run, f"samples_step_{step:06d}.png")
        )
        rx.add_file_artifact(_run, grid)

    metrics = rx.train_and_evaluate(
        _run,
        estimator,
        gan_input_fn(input_fn("train", batch_size, data_dir), noise_dims, seed),
        gan_input_fn(input_fn("test", batch_size, data_dir, n_epochs=1), noise_dims, seed + 1),
        steps=steps,
        eval_every=eval_every,
        log_every=log_every,
        after_evaluation=after_evaluation,
    )
    distance = float(metrics["frechet_distance"])
    rx.print_run_summary(_run, "Fréchet distance", distance)
    return distance


@ex.command
def serialize(_run, data_dir):
    """Serialize the records (if missing) and record the dataset; returns the fingerprint."""
    return rx.serialize_and_record(_run, data_dir, serialize_mnist, "mnist")


if __name__ == "__main__":
    ex.run_commandline()
