"""What the models take from a record set's manifest, checked before anything is built.

The image shape, number of classes and class names of a model are read from the handlers'
`FeatureSpec`s in ``manifest.json``, never restated by hand::

    manifest.schema["image"].spec -> image_input() -> ImageInput(shape=(H, W, C), dtype="uint8")
    manifest.schema["label"].spec -> class_labels() -> ("cat", "dog", ...)
    -> classifier_params_from_manifest() -> {"image_shape", "num_classes", "class_names"}
       (+ "multi_label": True when the label is a set of classes, `MultiLabelHandler`)
    -> gan_params_from_manifest()        -> {"image_shape"}

A record set the model cannot take is refused here, before training, with one line naming the
feature, what the records hold and what the model expects, e.g.::

    records feature 'image' (data/manifest.json) holds float32 [28, 28, 1]; the classifier
    expects uint8 [H, W, C] images with C in (1, 3)
    (serialize with ImageArrayHandler(dtype='uint8'))
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

from reproml.errors import DataContractError
from reproml.lazy import lazy_import
from reproml.records.manifest import MANIFEST_NAME, Manifest, load_manifest
from reproml.records.spec import FeatureSpec

networks = lazy_import("reproml.models.networks")  # image_shape_problem: TensorFlow

CHANNELS = (1, 3)  # grayscale or RGB: what the models, the plots and the serving signature take
IMAGE_DTYPE = "uint8"  # the models scale uint8 [0, 255] themselves, so SavedModels serve raw images

ManifestLike = Manifest | str | os.PathLike


@dataclasses.dataclass(frozen=True)
class ImageInput:
    """The image feature a model reads: its key, shape (H, W, C) and dtype (always "uint8")."""

    key: str
    shape: tuple[int, int, int]
    dtype: str


def _manifest_and_path(manifest: ManifestLike) -> tuple[Manifest, str | None]:
    """Returns the manifest (loaded if `manifest` is a record directory) and its path if known."""
    if isinstance(manifest, Manifest):
        record_dir = getattr(manifest, "record_dir", None)  # set by load_manifest and save
        return manifest, None if record_dir is None else str(Path(record_dir) / MANIFEST_NAME)
    return load_manifest(manifest), str(Path(manifest) / MANIFEST_NAME)


def _describe(spec: FeatureSpec) -> str:
    return f"{spec.dtype} {list(spec.shape)}"


def _spec(manifest: Manifest, path: str | None, key: str, model: str, wanted: str) -> FeatureSpec:
    if key not in manifest.schema:
        raise DataContractError(
            key,
            f"is missing (the records hold {sorted(manifest.schema)})",
            f"{model} expects {wanted} under {key!r}",
            "pass the key the records use, or serialize the feature",
            path,
        )
    return manifest.schema[key].spec


def image_input(
    manifest: ManifestLike, key: str = "image", model: str = "classifier"
) -> ImageInput:
    """Returns the image feature `key` of the records, checked to be uint8 [H, W, C], C in (1, 3).

    Args:
      manifest: a `Manifest`, or a record directory holding ``manifest.json``.
      key: the image feature's key in the manifest's schema.
      model: the model named in errors ("classifier", "GAN", ...).

    Raises:
      DataContractError: the feature is missing, not uint8, not of rank 3, or has neither 1
        nor 3 channels; the one-line message names the feature, what the records hold, what
        the model expects and how to serialize it.
      RecordError: `manifest` is a directory without a valid manifest.
    """
    return _image_input(*_manifest_and_path(manifest), key, model)


def _image_input(manifest: Manifest, path: str | None, key: str, model: str) -> ImageInput:
    wanted = f"{IMAGE_DTYPE} [H, W, C] images with C in {CHANNELS}"
    spec = _spec(manifest, path, key, model, wanted)
    holds = f"holds {_describe(spec)}"
    expects = f"{model} expects {wanted}"
    if spec.dtype != IMAGE_DTYPE:
        raise DataContractError(
            key, holds, expects, "serialize with ImageArrayHandler(dtype='uint8')", path
        )
    if len(spec.shape) != 3:
        hint = tuple(spec.shape[:2]) + (1,) if len(spec.shape) == 2 else "(H, W, C)"
        raise DataContractError(
            key, holds, expects, f"serialize with ImageArrayHandler(shape={hint})", path
        )
    height, width, channels = spec.shape
    if channels not in CHANNELS:
        fix = f"serialize with ImageArrayHandler(shape=({height}, {width}, 1 or 3))"
        raise DataContractError(key, holds, expects, fix, path)
    return ImageInput(key=key, shape=(height, width, channels), dtype=spec.dtype)


def class_labels(
    manifest: ManifestLike, key: str = "label", model: str = "classifier"
) -> tuple[str, ...]:
    """Returns the class names of the label feature `key`, in index order (at least two).

    Args:
      manifest: a `Manifest`, or a record directory holding ``manifest.json``.
      key: the label feature's key in the manifest's schema.
      model: the model named in errors.

    Raises:
      DataContractError: the feature is missing, is not an int64 scalar, has no class names
        (it was not written by `ClassLabelHandler`) or fewer than two classes.
      RecordError: `manifest` is a directory without a valid manifest.
    """
    return _class_labels(*_manifest_and_path(manifest), key, model)


def _class_labels(manifest: Manifest, path: str | None, key: str, model: str) -> tuple[str, ...]:
    wanted = "an int64 class label [] with class names"
    spec = _spec(manifest, path, key, model, wanted)
    expects = f"{model} expects {wanted}"
    fix = "serialize with ClassLabelHandler(names=[...])"
    if is_label_set(spec):
        return spec.names
    if spec.encoding == "ragged_int64" and spec.names is not None:  # a set decoded as ids
        raise DataContractError(
            key,
            "holds a label set decoded as ids",
            f"{model} expects a label set decoded as a multi-hot vector",
            "serialize with MultiLabelHandler(names=[...], decode_as='multi_hot')",
            path,
        )
    if spec.dtype != "int64" or spec.shape != ():
        raise DataContractError(key, f"holds {_describe(spec)}", expects, fix, path)
    if spec.names is None:
        raise DataContractError(key, "holds int64 [] without class names", expects, fix, path)
    if len(spec.names) < 2:
        raise DataContractError(
            key,
            f"holds {len(spec.names)} class {list(spec.names)}",
            f"{model} expects at least 2 classes",
            fix,
            path,
        )
    return spec.names


def is_label_set(spec: FeatureSpec) -> bool:
    """Returns whether `spec` is a set of class labels decoded multi-hot (`MultiLabelHandler`)."""
    return spec.decode_as == "multi_hot" and spec.names is not None


def classifier_params_from_manifest(
    manifest: ManifestLike, image_key: str = "image", label_key: str = "label"
) -> dict[str, Any]:
    """Returns the classifier params the records decide: image_shape, num_classes, class_names.

    Merge them into the classifier's params (``{**params, **classifier_params_from_manifest(d)}``);
    the model reads its images from ``features["image"]`` (what `input_fn` yields by default).

    Args:
      manifest: a `Manifest`, or a record directory holding ``manifest.json``.
      image_key: the image feature's key.
      label_key: the label feature's key.

    Returns:
      ``{"image_shape": [H, W, C], "num_classes": N, "class_names": [...]}`` (lists, as Sacred
      records them), plus ``"multi_label": True`` when the label is a set of classes
      (written by ``MultiLabelHandler``; the classifier then has a sigmoid head).

    Raises:
      DataContractError: the records hold no image or label the classifier can take.
    """
    manifest, path = _manifest_and_path(manifest)
    image = _image_input(manifest, path, image_key, "classifier")
    names = _class_labels(manifest, path, label_key, "classifier")
    params = {
        "image_shape": list(image.shape),
        "num_classes": len(names),
        "class_names": list(names),
    }
    if is_label_set(manifest.schema[label_key].spec):
        params["multi_label"] = True
    return params


def gan_params_from_manifest(
    manifest: ManifestLike, image_key: str = "image", network: str = "dcgan"
) -> dict[str, Any]:
    """Returns the GAN params the records decide: ``{"image_shape": [H, W, C]}``.

    Besides the image checks of `image_input`, the image shape must suit `network` (dcgan:
    H and W divisible by 4).

    Args:
      manifest: a `Manifest`, or a record directory holding ``manifest.json``.
      image_key: the image feature's key.
      network: the GAN network (a module of `reproml/models/networks/`).

    Raises:
      DataContractError: the records hold no image the GAN network can take.
      ConfigError: `network` is not a GAN network.
    """
    manifest, path = _manifest_and_path(manifest)
    image = _image_input(manifest, path, image_key, "GAN")
    problem = networks.image_shape_problem(network, image.shape)
    if problem is not None:
        raise DataContractError(
            image_key,
            f"holds {image.dtype} {list(image.shape)}",
            f"GAN network {network!r} expects {problem}",
            "serialize with ImageArrayHandler(shape=...) to such a size",
            path,
        )
    return {"image_shape": list(image.shape)}
