"""The (Wasserstein) GAN recipe: its hyper-parameters, Estimator, evaluator and scores.

    hparams = GANHParams.from_config(_config)                # every entry checked, or ConfigError
    estimator = gan_estimator(_run, manifest, hparams)
    train_fn, eval_fn = gan_input_fns(manifest, batch_size, noise_dims, seed)
    evaluator, reference = fixed_evaluator(_run, manifest, evaluator_dir, steps, num_fid_samples)
    train_and_evaluate(..., after_evaluation=scorer(_run, estimator, evaluator, reference, ...))

After every evaluation the scorer generates `num_fid_samples` images, scores them against the
real reference (``eval.<score>`` for each of `reproml.models.evaluator.SCORE_NAMES`, also put
in the metrics) and adds ``samples_step_<step>.png``: a grid titled with the run, step and
scores. TensorFlow and the models are imported on first use (`reproml.lazy`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

from reproml.errors import ConfigError
from reproml.lazy import lazy_import
from reproml.models.gan_types import GAN_TYPES
from reproml.models.networks import available_networks
from reproml.models.optimizers import OPTIMIZERS
from reproml.records.manifest import Manifest
from reproml.sacred_internals import run_id
from reproml.tracking import experiment as rx

data_contract = lazy_import("reproml.models.data_contract")
evaluators = lazy_import("reproml.models.evaluator")  # the fixed evaluation classifier
frechet = lazy_import("reproml.models.frechet")  # to_uint8_images
reader = lazy_import("reproml.records.reader")  # input_fn
wgan = lazy_import("reproml.models.wgan")  # make_gan_estimator, gan_input_fn, generate


@dataclasses.dataclass(frozen=True)
class GANHParams:
    """Every hyper-parameter of a GAN run, checked once (`from_config`).

    Attributes:
      gan_type: "wgan" (weight clipping) or "wgan_gp" (gradient penalty).
      network: a file of ``reproml/models/networks/`` with a generator and a critic.
      gen_batch_norm: the generator's batch norm before each ReLU.
      optimizer: the optimizer of generator and critic (`OPTIMIZERS`).
      lr: the learning rate of generator and critic.
      adam_beta1: Adam's beta1, in [0, 1).
      adam_beta2: Adam's beta2, in [0, 1).
      rmsprop_decay: RMSProp's decay, in [0, 1).
      critic_steps: critic updates per generator update.
      clip_value: "wgan": the critic weights' clipping bound.
      gradient_penalty_weight: "wgan_gp": the weight of the gradient penalty.
      noise_dims: the length of the generator's noise vector.
      batch_size: real images per batch.
      steps: the global step to train to.
      eval_every: training steps between evaluations.
      eval_batches: test batches behind the eval losses (None: the whole test split).
      log_every: training steps between metric logs.
      num_fid_samples: generated and real test images behind every score (>= 2).
      num_samples: generated images in each sample grid.
      evaluator_dir: the cache of evaluation classifiers (None: the default cache).
      evaluator_steps: training steps of the evaluation classifier.
      model_dir: checkpoints and events (None: ``<run dir>/model``).
      seed: the graph seed, an int in [0, 2**32).
    """

    gan_type: str
    network: str
    gen_batch_norm: bool
    optimizer: str
    lr: float
    adam_beta1: float
    adam_beta2: float
    rmsprop_decay: float
    critic_steps: int
    clip_value: float
    gradient_penalty_weight: float
    noise_dims: int
    batch_size: int
    steps: int
    eval_every: int
    eval_batches: int | None
    log_every: int
    num_fid_samples: int
    num_samples: int
    evaluator_dir: str | None
    evaluator_steps: int
    model_dir: str | None
    seed: int

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> GANHParams:
        """Return the hyper-parameters of a run's `config`, every entry checked.

        Raises:
          ConfigError: an entry is missing or has a bad value (the message names it).
        """
        missing = [f.name for f in dataclasses.fields(cls) if f.name not in config]
        if missing:
            raise ConfigError(missing[0], "a config entry of a GAN run", "no such entry")
        rx.check_positive_int(config, "batch_size", "steps", "eval_every", "log_every")
        rx.check_positive_int(config, "num_samples", "noise_dims", "critic_steps")
        rx.check_positive_int(config, "evaluator_steps")
        rx.check_positive_number(config, "lr", "clip_value", "gradient_penalty_weight")
        rx.check_choice(config, "gan_type", GAN_TYPES)
        rx.check_choice(config, "optimizer", sorted(OPTIMIZERS))
        rx.check_choice(config, "network", available_networks("generator"))
        rx.check_choice(config, "gen_batch_norm", [True, False])
        for entry in ("adam_beta1", "adam_beta2", "rmsprop_decay"):
            value = config[entry]
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < 1:
                raise ConfigError(entry, "a number in [0, 1)", value)
        if config["eval_batches"] is not None:
            rx.check_positive_int(config, "eval_batches")
        rx.check_positive_int(config, "num_fid_samples")
        if config["num_fid_samples"] < 2:
            raise ConfigError("num_fid_samples", "an int >= 2", config["num_fid_samples"])
        if config["evaluator_dir"] is not None and not isinstance(config["evaluator_dir"], str):
            raise ConfigError("evaluator_dir", "None or a directory path", config["evaluator_dir"])
        rx.check_optional_dir(config, "model_dir")
        rx.check_seed(config)
        return cls(**{f.name: config[f.name] for f in dataclasses.fields(cls)})

    def estimator_params(self) -> dict[str, Any]:
        """Return the GANEstimator params the config decides (one optimizer and lr for both).

        The records decide the image shape (`reproml.models.data_contract`).
        """
        same = (
            "gan_type",
            "network",
            "critic_steps",
            "clip_value",
            "noise_dims",
            "gradient_penalty_weight",
            "gen_batch_norm",
            "adam_beta1",
            "adam_beta2",
            "rmsprop_decay",
        )
        params = {entry: getattr(self, entry) for entry in same}
        params.update(generator_optimizer=self.optimizer, critic_optimizer=self.optimizer)
        params.update(generator_lr=self.lr, critic_lr=self.lr)
        return params


def gan_estimator(_run: Any, manifest: Manifest, hparams: GANHParams) -> Any:
    """Return the seeded GANEstimator for the images of `manifest`, as `hparams` say.

    Records ``info["model"]`` (the network), ``info["model_dir"]`` and ``info["tensorboard"]``.

    Args:
      _run: the Sacred run.
      manifest: the records; the image shape is read from it (and checked for the network).
      hparams: the run's hyper-parameters (``model_dir`` None: ``<run dir>/model``; ``seed``
        the graph seed; ``log_every`` the summary steps).
    """
    model_dir = rx.model_dir_for(_run, hparams.model_dir)
    _run.info["model"] = hparams.network
    rx.record_tensorboard(_run, model_dir)
    params = data_contract.gan_params_from_manifest(manifest, network=hparams.network)
    params.update(hparams.estimator_params())
    return wgan.make_gan_estimator(
        model_dir, params, hparams.seed, save_summary_steps=hparams.log_every
    )


def gan_input_fns(
    manifest: Manifest, batch_size: int, noise_dims: int, seed: int
) -> tuple[Callable, Callable]:
    """Return the train and eval input_fns: real images of the records with generator noise.

    The train split repeats (noise seeded by `seed`); the test split is read once (`seed` + 1).
    """
    train = reader.input_fn("train", batch_size, manifest)
    test = reader.input_fn("test", batch_size, manifest, n_epochs=1)
    return (
        wgan.gan_input_fn(train, noise_dims, seed),
        wgan.gan_input_fn(test, noise_dims, seed + 1),
    )


def fixed_evaluator(
    _run: Any,
    manifest: Manifest,
    evaluator_dir: str | None,
    evaluator_steps: int,
    num_fid_samples: int,
) -> tuple[Any, dict[str, Any]]:
    """Return the dataset's evaluation classifier (trained once, then reused) and the reference.

    Records ``info["evaluator"]``: the evaluator's identity and the scores of the real images.

    Args:
      _run: the Sacred run.
      manifest: the records the evaluator is trained on (and the real test images).
      evaluator_dir: the cache of evaluators; None: ``$REPROML_EVALUATOR_DIR`` or ``~/.cache``.
      evaluator_steps: training steps of the evaluator (part of its identity).
      num_fid_samples: real test images behind the reference.
    """
    evaluator = evaluators.load_or_train_evaluator(
        manifest, evaluator_dir, evaluators.evaluator_config(steps=evaluator_steps)
    )
    reference = evaluator.reference(manifest, num_fid_samples)
    _run.info["evaluator"] = {**evaluator.info(num_fid_samples), "real": reference["scores"]}
    return evaluator, reference


def scorer(
    _run: Any,
    estimator: Any,
    evaluator: Any,
    reference: Mapping[str, Any],
    *,
    num_fid_samples: int,
    num_samples: int,
    noise_dims: int,
    seed: int,
) -> Callable[[int, dict], None]:
    """Return the ``after_evaluation(step, metrics)`` that scores and draws generated images.

    Args:
      _run: the Sacred run.
      estimator: the GANEstimator.
      evaluator: `fixed_evaluator`'s evaluator.
      reference: its real reference.
      num_fid_samples: generated images behind every score.
      num_samples: of them, those drawn in the grid.
      noise_dims: the generator's noise length.
      seed: the noise seed (the same images are generated at every evaluation's step).
    """

    def after_evaluation(step: int, metrics: dict) -> None:
        generated = frechet.to_uint8_images(
            wgan.generate(estimator, num_fid_samples, noise_dims, seed)
        )
        scores = evaluator.scores(generated, reference)
        for name in evaluators.SCORE_NAMES:
            metrics[name] = scores[name]
            _run.log_scalar(f"eval.{name}", scores[name], step)
        title = (
            f"run {run_id(_run)} step {step}: FD {scores['frechet_distance']:.1f}, "
            f"MNIST score {scores['mnist_score']:.2f}\nclass entropy "
            f"{scores['class_entropy']:.2f}, pairwise L2 {scores['pairwise_distance']:.2f} "
            f"(evaluator {evaluator.fingerprint[:8]}, N={num_fid_samples})"
        )
        path = rx.new_artifact_path(_run, f"samples_step_{step:06d}.png")
        grid = evaluators.save_scored_grid(generated[:num_samples], path, title)
        rx.add_file_artifact(_run, grid)

    return after_evaluation
