"""A pretrained backbone from ``tf.keras.applications``, fine-tuned: ``network = "backbone"``.

``params["backbone"]`` (checked by `backbone_settings`)::

    {"name": "MobileNetV2",      # MobileNetV2, ResNet50 or EfficientNetB0
     "alpha": 0.35,              # MobileNetV2's width multiplier (default 1.0)
     "weights": "w.h5",          # a Keras .h5 weights file of this backbone; None: random init
     "weights_sha256": "...",    # the sha256 the weights file must have (None: any)
     "unfreeze_top": 2,          # the backbone's last N layers are fine-tuned ...
     "unfreeze_at_step": 5}      # ... from this global step on (before: only the head trains)

The images (float32 in [0, 1], RGB) go through the family's own
``tf.keras.applications.<family>.preprocess_input`` (on 0..255), then the backbone
(``include_top=False, pooling="avg"``: its features are the embedding), then the ``logits``
layer. Batch norm runs in inference mode throughout (the usual fine-tuning practice: frozen
statistics), so the backbone has no update ops. The weights file is read when training starts
from scratch (`weights_init_fn` in the Scaffold); a checkpoint, when there is one, wins.
Downloading weights from a URL (with a required sha256) happens before, in
`reproml.tracking.backbone_weights`.
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping
from typing import Any

import tensorflow as tf

from reproml.errors import ConfigError
from reproml.models.keras_network import graph_seeded_keras, keras_layer_summary, logits_layer
from reproml.models.network_output import NetworkOutput
from reproml.models.weights_file import read_weights_file, weights_init_fn

# name -> the tf.keras.applications module holding its preprocess_input
FAMILIES: dict[str, str] = {
    "MobileNetV2": "mobilenet_v2",
    "ResNet50": "resnet50",
    "EfficientNetB0": "efficientnet",
}
SETTINGS: dict[str, Any] = {
    "name": None,  # MobileNetV2, ResNet50 or EfficientNetB0 (required)
    "alpha": 1.0,  # MobileNetV2's width multiplier
    "weights": None,  # a Keras .h5 weights file of the backbone; None: random initialization
    "weights_url": None,  # where to download the weights file (with weights_sha256)
    "weights_sha256": None,  # the weights file's sha256 (required with weights_url)
    "unfreeze_top": 0,  # the backbone's last N layers are fine-tuned ...
    "unfreeze_at_step": 0,  # ... from this global step on
}


def _non_negative_int(settings: Mapping[str, Any], key: str) -> int:
    value = settings[key]
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
        raise ConfigError(f"backbone.{key}", "an int >= 0", value)
    return int(value)


def backbone_settings(params: Mapping[str, Any]) -> dict[str, Any]:
    """Return ``params["backbone"]`` checked and completed with `SETTINGS` defaults.

    Raises:
      ConfigError: it is not a dict, has an unknown key, an unknown name, a bad alpha, count
        or step, a weights_url without weights_sha256, or a sha256 that is not 64 hex digits;
        the images are not RGB (named as config entry ``image_shape``).
    """
    given = params.get("backbone")
    if not isinstance(given, Mapping):
        raise ConfigError("backbone", f"a dict with a name (one of {sorted(FAMILIES)})", given)
    unknown = sorted(set(given) - set(SETTINGS))
    if unknown:
        raise ConfigError(f"backbone.{unknown[0]}", f"one of {sorted(SETTINGS)}", unknown[0])
    settings = {**SETTINGS, **given}
    if settings["name"] not in FAMILIES:
        raise ConfigError("backbone.name", f"one of {sorted(FAMILIES)}", settings["name"])
    alpha = settings["alpha"]
    if isinstance(alpha, bool) or not isinstance(alpha, numbers.Real) or not alpha > 0:
        raise ConfigError("backbone.alpha", "a positive width multiplier", alpha)
    settings["unfreeze_top"] = _non_negative_int(settings, "unfreeze_top")
    settings["unfreeze_at_step"] = _non_negative_int(settings, "unfreeze_at_step")
    sha = settings["weights_sha256"]
    if sha is not None and (
        not isinstance(sha, str)
        or len(sha) != 64
        or any(c not in "0123456789abcdefABCDEF" for c in sha)
    ):
        raise ConfigError("backbone.weights_sha256", "a sha256 of 64 hex digits", sha)
    if settings["weights_url"] is not None and sha is None:
        raise ConfigError(
            "backbone.weights_sha256",
            "the sha256 of the file at backbone.weights_url (a download must be pinned)",
            None,
        )
    image_shape = params.get("image_shape")
    if image_shape is not None and list(image_shape)[-1] != 3:
        raise ConfigError(
            "image_shape", f"RGB [H, W, 3] images for {settings['name']}", image_shape
        )
    return settings


def build_backbone(settings: Mapping[str, Any], image_shape: Any) -> tf.keras.Model:
    """Return the headless ``tf.keras.applications`` backbone (random weights, avg pooling).

    Raises:
      ConfigError: Keras refuses the image shape (e.g. MobileNetV2 below 32x32).
    """
    kwargs: dict[str, Any] = dict(
        include_top=False, weights=None, input_shape=tuple(image_shape), pooling="avg"
    )
    if settings["name"] == "MobileNetV2":
        kwargs["alpha"] = float(settings["alpha"])
    try:
        return getattr(tf.keras.applications, settings["name"])(**kwargs)
    except ValueError as err:
        raise ConfigError(
            "image_shape", f"a shape {settings['name']} takes ({err})", list(image_shape)
        ) from None


def preprocess(name: str, images: tf.Tensor) -> tf.Tensor:
    """Apply the family's ``preprocess_input`` to float32 images in [0, 1] (scaled to 0..255)."""
    family = getattr(tf.keras.applications, FAMILIES[name])
    return family.preprocess_input(images * 255.0)


def unfrozen_layers(model: tf.keras.Model, top: int) -> list[tf.keras.layers.Layer]:
    """The backbone's last `top` layers that have trainable weights (fine-tuned)."""
    with_weights = [layer for layer in model.layers if layer.trainable_weights]
    return with_weights[len(with_weights) - top :] if top else []


def classifier(images: tf.Tensor, params: dict[str, Any], training: bool) -> NetworkOutput:
    """Return the backbone's logits and embedding; in training, its weights and frozen layers."""
    settings = backbone_settings(params)
    with graph_seeded_keras():
        model = build_backbone(settings, params["image_shape"])
        embedding = model(preprocess(settings["name"], images), training=False)
    logits = logits_layer(embedding, params["num_classes"])
    head = [v for v in tf.compat.v1.trainable_variables() if v.op.name.startswith("logits/")]
    start = settings["unfreeze_at_step"]
    tuned = [
        w
        for layer in unfrozen_layers(model, settings["unfreeze_top"])
        for w in layer.trainable_weights
    ]
    init_fn = None
    if training and settings["weights"] is not None:
        weights = read_weights_file(settings["weights"], settings["weights_sha256"])
        init_fn = weights_init_fn(model, weights, str(settings["weights"]))
    return NetworkOutput(
        logits,
        embedding,
        init_fn=init_fn,
        trainable=[(v, 0) for v in head] + [(v, start) for v in tuned],
        layers=keras_layer_summary(model, images, logits),
    )
