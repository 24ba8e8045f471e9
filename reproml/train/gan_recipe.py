"""The steps of a (Wasserstein) GAN run on records: its Estimator, its evaluator, its scores.

    estimator = gan_estimator(_run, manifest, _config)        # params from the config entries
    train_fn, eval_fn = gan_input_fns(manifest, batch_size, noise_dims, seed)
    evaluator, reference = fixed_evaluator(_run, manifest, evaluator_dir, steps, num_fid_samples)
    rx.train_and_evaluate(..., after_evaluation=scorer(_run, estimator, evaluator, reference, ...))

After every evaluation the scorer generates `num_fid_samples` images, scores them against the
real reference (``eval.<score>`` for each of `reproml.models.evaluator.SCORE_NAMES`, also put
in the metrics) and adds ``samples_step_<step>.png``: a grid titled with the run, step and
scores. TensorFlow and the models are imported on first use (`reproml.lazy`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from reproml.lazy import lazy_import
from reproml.records.manifest import Manifest
from reproml.tracking import experiment as rx

data_contract = lazy_import("reproml.models.data_contract")
evaluators = lazy_import("reproml.models.evaluator")  # the fixed evaluation classifier
frechet = lazy_import("reproml.models.frechet")  # to_uint8_images
reader = lazy_import("reproml.records.reader")  # input_fn
wgan = lazy_import("reproml.models.wgan")  # make_gan_estimator, gan_input_fn, generate


def gan_params(config: Mapping[str, Any]) -> dict[str, Any]:
    """Return the GANEstimator params of a GAN experiment's `config` (one optimizer and lr).

    Reads ``gan_type``, ``network``, ``gen_batch_norm``, ``optimizer``, ``lr``,
    ``adam_beta1``, ``adam_beta2``, ``rmsprop_decay``, ``critic_steps``, ``clip_value``,
    ``gradient_penalty_weight`` and ``noise_dims``; generator and critic share the optimizer
    and the learning rate.
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
    params = {entry: config[entry] for entry in same}
    params.update(generator_optimizer=config["optimizer"], critic_optimizer=config["optimizer"])
    params.update(generator_lr=config["lr"], critic_lr=config["lr"])
    return params


def gan_estimator(_run: Any, manifest: Manifest, config: Mapping[str, Any]) -> Any:
    """Return the seeded GANEstimator for the images of `manifest`, as `config` says.

    Records ``info["model"]`` (the network), ``info["model_dir"]`` and ``info["tensorboard"]``.

    Args:
      _run: the Sacred run.
      manifest: the records; the image shape is read from it (and checked for the network).
      config: the run's config: `gan_params`' entries, ``model_dir`` (None: ``<run
        dir>/model``), ``seed`` (the graph seed) and ``log_every`` (summary steps).
    """
    model_dir = rx.model_dir_for(_run, config["model_dir"])
    _run.info["model"] = config["network"]
    rx.record_tensorboard(_run, model_dir)
    params = data_contract.gan_params_from_manifest(manifest, network=config["network"])
    params.update(gan_params(config))
    return wgan.make_gan_estimator(
        model_dir, params, config["seed"], save_summary_steps=config["log_every"]
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
            f"run {_run._id} step {step}: FD {scores['frechet_distance']:.1f}, "
            f"MNIST score {scores['mnist_score']:.2f}\nclass entropy "
            f"{scores['class_entropy']:.2f}, pairwise L2 {scores['pairwise_distance']:.2f} "
            f"(evaluator {evaluator.fingerprint[:8]}, N={num_fid_samples})"
        )
        path = rx.new_artifact_path(_run, f"samples_step_{step:06d}.png")
        grid = evaluators.save_scored_grid(generated[:num_samples], path, title)
        rx.add_file_artifact(_run, grid)

    return after_evaluation
