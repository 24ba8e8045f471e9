"""A backbone's weights file for a run: downloaded (sha256 required) or local, hashed, recorded.

`resolve_backbone_weights` runs before the Estimator is made. With ``backbone.weights_url``
the file is fetched once into ``<cache>/weights/`` by `download_verified` (the same verified,
atomic download as MNIST's: a wrong sha256 is refused and nothing is cached); with
``backbone.weights`` the local file is hashed (and must match ``weights_sha256`` if given).
The run records ``info["backbone_weights"] = {"file", "sha256", "url"}`` -- `reproduce`
refuses to re-run when the file no longer has that hash -- and ``info["fine_tuning"]``
(which layers train from which step). `save_backbone_weights` writes the backbone's weights
of a checkpoint as a Keras .h5 file: a valid ``backbone.weights`` for a new run.
"""

from __future__ import annotations

import os
import urllib.parse
from pathlib import Path
from typing import Any

from reproml.errors import RecordError
from reproml.lazy import lazy_import
from reproml.records.download import default_cache_dir, download_verified
from reproml.records.file_hash import file_sha256

backbones = lazy_import("reproml.models.networks.backbone")  # TensorFlow
weights_files = lazy_import("reproml.models.weights_file")  # h5py
tf = lazy_import("tensorflow")

INFO_KEY = "backbone_weights"


def weights_cache_path(url: str, sha256: str, cache_dir: str | os.PathLike | None = None) -> Path:
    """Where the file at `url` with `sha256` is cached: ``<cache>/weights/<sha256>-<name>``."""
    name = Path(urllib.parse.urlparse(url).path).name or "weights.h5"
    return Path(cache_dir or default_cache_dir()) / "weights" / f"{sha256.lower()}-{name}"


def fetch_weights(url: str, sha256: str, cache_dir: str | os.PathLike | None = None) -> Path:
    """Return the cached file of `url` (downloaded and checked against `sha256` if not cached).

    Raises:
      DownloadError: the download failed; ChecksumMismatchError: its sha256 is not `sha256`
        (names the url and both hashes; nothing is cached).
    """
    target = weights_cache_path(url, sha256, cache_dir)
    if not (target.is_file() and file_sha256(target)[1] == sha256.lower()):
        download_verified(url, target, sha256.lower(), progress=False)
    return target


def resolve_backbone_weights(
    _run: Any, params: dict[str, Any], cache_dir: str | os.PathLike | None = None
) -> dict[str, Any]:
    """Return `params` with ``backbone.weights`` a local file pinned by its sha256 (recorded).

    Params of another network are returned as they are.

    Raises:
      ConfigError: a bad ``backbone`` setting (`backbone_settings`).
      RecordError: the weights file is missing or does not have ``backbone.weights_sha256``;
        DownloadError / ChecksumMismatchError for a URL.
    """
    if params.get("network") != "backbone":
        return params
    settings = backbones.backbone_settings(params)
    url, pinned = settings["weights_url"], settings["weights_sha256"]
    path = fetch_weights(url, pinned, cache_dir) if url else settings["weights"]
    if path is not None:
        path = Path(path).expanduser().resolve()
        if not path.is_file():
            raise RecordError(str(path), "no such weights file (config backbone.weights)")
        _, actual = file_sha256(path)
        if pinned is not None and actual != pinned.lower():
            raise RecordError(
                str(path),
                f"weights file has sha256 {actual}, backbone.weights_sha256 says {pinned}",
            )
        settings.update(weights=str(path), weights_sha256=actual)
        _run.info[INFO_KEY] = {"file": str(path), "sha256": actual, "url": url}
    return {**params, "backbone": settings}


def record_fine_tuning(_run: Any, params: dict[str, Any]) -> None:
    """Record ``info["fine_tuning"]``: the backbone, and which layers train from which step."""
    settings = backbones.backbone_settings(params)
    with tf.Graph().as_default():
        model = backbones.build_backbone(settings, params["image_shape"])
        tuned = backbones.unfrozen_layers(model, settings["unfreeze_top"])
        _run.info["fine_tuning"] = {
            "backbone": model.name,
            "head": "logits (from step 0)",
            "unfreeze_top": settings["unfreeze_top"],
            "unfreeze_at_step": settings["unfreeze_at_step"],
            "unfrozen_layers": [layer.name for layer in tuned],
            "frozen_layers": sum(1 for layer in model.layers if layer.weights) - len(tuned),
        }


def save_backbone_weights(params: dict[str, Any], checkpoint: str, path: str | os.PathLike) -> str:
    """Write the backbone's weights held in `checkpoint` as a Keras .h5 file; returns its sha256.

    The file is a valid ``backbone.weights`` for a new run of the same backbone.
    """
    settings = backbones.backbone_settings(params)
    reader = tf.train.load_checkpoint(checkpoint)
    with tf.Graph().as_default():
        model = backbones.build_backbone(settings, params["image_shape"])
        model(tf.compat.v1.placeholder(tf.float32, [None, *params["image_shape"]]), training=False)
        layers = []
        for layer in model.layers:
            if layer.weights:
                arrays = [reader.get_tensor(w.name.split(":")[0]) for w in layer.weights]
                layers.append((layer.name, arrays))
    return weights_files.write_weights_file(path, layers)
