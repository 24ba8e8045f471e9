"""Classifier embeddings of production or baseline images, from a checkpoint or a SavedModel.

The classifier's PREDICT spec (and so the SavedModel's ``serving_default`` signature) returns
``embedding`` -- the dense layer before the logits -- beside ``class_ids`` and
``probabilities``. This module reads images and computes those three for many images at once::

    read_split(records, "test")    -> ImageBatch (images, labels, timestamps from the records)
    read_npz("prod.npz")           -> ImageBatch ("image", optional "label", "timestamp" keys)
    embed_images(estimator, batch) -> Embeddings (the checkpoint, through Estimator.predict)
    embed_saved_model(export_dir, images) -> the same outputs, through the serving signature

The two paths compute the same numbers (tested: the drift report's embeddings equal the
signature's), so production scoring with the SavedModel alone yields embeddings a drift
report can be compared with.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from reproml.errors import ConfigError, RecordError
from reproml.records.file_hash import file_sha256
from reproml.records.manifest import Manifest, load_manifest
from reproml.records.reader import dataset_from_records

IMAGE_KEY = "image"
LABEL_KEY = "label"
TIMESTAMP_KEY = "timestamp"
NPZ_KEYS = (IMAGE_KEY, LABEL_KEY, TIMESTAMP_KEY)


@dataclasses.dataclass(frozen=True)
class ImageBatch:
    """Images to embed, with what the data says about them.

    Attributes:
      images: uint8 [N, H, W, C].
      labels: int64 [N], or None (production labels often arrive later, or never).
      timestamps: int64 or float [N] (the stream's time of each image), or None.
      source: where the images came from (recorded in the drift run).
    """

    images: np.ndarray
    labels: np.ndarray | None = None
    timestamps: np.ndarray | None = None
    source: dict[str, Any] = dataclasses.field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.images)


@dataclasses.dataclass(frozen=True)
class Embeddings:
    """What the classifier says about N images.

    Attributes:
      embedding: float32 [N, D], the dense layer before the logits.
      class_ids: int64 [N], the predicted classes.
      probabilities: float32 [N, num_classes].
      data: the images (and labels, timestamps) they were computed from.
    """

    embedding: np.ndarray
    class_ids: np.ndarray
    probabilities: np.ndarray
    data: ImageBatch

    def __len__(self) -> int:
        return len(self.embedding)

    def take(self, index: np.ndarray) -> Embeddings:
        """Return the rows `index` (an int array or a boolean mask) of every array."""
        data = self.data

        def pick(values: np.ndarray | None) -> np.ndarray | None:
            return None if values is None else values[index]

        return Embeddings(
            self.embedding[index],
            self.class_ids[index],
            self.probabilities[index],
            ImageBatch(data.images[index], pick(data.labels), pick(data.timestamps), data.source),
        )


def check_images(images: Any, image_shape: Sequence[int] | None, entry: str = "images") -> None:
    """Refuse anything but uint8 [N, H, W, C] with N >= 1 and [H, W, C] == `image_shape`.

    Raises:
      ConfigError: named `entry`, with the dtype and shape found.
    """
    shape = "[N, H, W, C]" if image_shape is None else f"[N, {', '.join(map(str, image_shape))}]"
    array = images if isinstance(images, np.ndarray) else None
    if (
        array is None
        or array.dtype != np.uint8
        or array.ndim != 4
        or len(array) == 0
        or (image_shape is not None and list(array.shape[1:]) != list(image_shape))
    ):
        got = (
            f"{array.dtype} {list(array.shape)}"
            if array is not None
            else f"a {type(images).__name__}"
        )
        raise ConfigError(entry, f"uint8 images {shape} with N >= 1 (the model's image_shape)", got)


def read_split(records: Any, split: str, *, batch_size: int = 1024) -> ImageBatch:
    """Read every image of `split` (with its label and timestamp when the records hold them).

    Args:
      records: a record directory written by `write_records`, or its `Manifest`.
      split: the split to read, in record order.
      batch_size: records parsed at once.

    Raises:
      RecordError: no manifest, no such split, or a damaged shard.
      ConfigError: the records hold no "image" feature.
    """
    manifest = records if isinstance(records, Manifest) else load_manifest(records)
    record_dir = manifest.record_dir if isinstance(records, Manifest) else records
    if IMAGE_KEY not in manifest.schema:
        raise ConfigError(
            f"{record_dir} schema", f"an {IMAGE_KEY!r} feature", sorted(manifest.schema)
        )
    if split not in manifest.splits:
        raise RecordError(
            str(Path(record_dir) / "manifest.json"),
            f"has no split {split!r} (splits: {sorted(manifest.splits)})",
            "Name one of its splits",
        )
    keys = [k for k in NPZ_KEYS if k in manifest.schema]
    columns: dict[str, list[np.ndarray]] = {k: [] for k in keys}
    for batch in dataset_from_records(split, manifest, keys=keys, batch_size=batch_size):
        for key in keys:
            columns[key].append(batch[key].numpy())
    arrays = {k: np.concatenate(v) if v else np.zeros((0,)) for k, v in columns.items()}
    source = {
        "record_dir": str(Path(record_dir).resolve()),
        "split": split,
        "fingerprint": manifest.fingerprint or manifest.compute_fingerprint(),
        "examples": int(len(arrays[IMAGE_KEY])),
    }
    return ImageBatch(
        arrays[IMAGE_KEY],
        arrays[LABEL_KEY].astype(np.int64) if LABEL_KEY in arrays else None,
        arrays.get(TIMESTAMP_KEY),
        source,
    )


def read_npz(path: str | os.PathLike) -> ImageBatch:
    """Read production images from an ``.npz`` file.

    The file holds ``image`` uint8 [N, H, W(, C)], and optionally ``label`` int [N] and
    ``timestamp`` number [N].

    Raises:
      RecordError: the file is missing or unreadable, has no ``image``, or a key of another
        length or kind (the message names the file and the key).
    """
    path = Path(path)
    if not path.is_file():
        raise RecordError(str(path), "does not exist", "Pass an existing .npz or record directory")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {key: data[key] for key in data.files}
    except (OSError, ValueError) as err:
        raise RecordError(str(path), f"is not a readable .npz ({err})") from None
    fix = f"Save it with np.savez(path, {IMAGE_KEY}=uint8 images, {TIMESTAMP_KEY}=..., ...)"
    if IMAGE_KEY not in arrays:
        raise RecordError(str(path), f"has no {IMAGE_KEY!r} array (keys: {sorted(arrays)})", fix)
    images = arrays[IMAGE_KEY]
    if images.ndim == 3:
        images = images[..., np.newaxis]
    if images.dtype != np.uint8 or images.ndim != 4 or len(images) == 0:
        problem = f"{IMAGE_KEY!r} is {images.dtype} {list(images.shape)}, not uint8 [N, H, W(, C)]"
        raise RecordError(str(path), problem, fix)
    extra = {}
    for key, kinds in ((LABEL_KEY, "iu"), (TIMESTAMP_KEY, "iuf")):
        if key not in arrays:
            extra[key] = None
            continue
        values = arrays[key]
        if values.shape != (len(images),) or values.dtype.kind not in kinds:
            problem = (
                f"{key!r} is {values.dtype} {list(values.shape)}, not a number per image "
                f"[{len(images)}]"
            )
            raise RecordError(str(path), problem, fix)
        extra[key] = values.astype(np.int64) if key == LABEL_KEY else values
    size, sha256 = file_sha256(path)
    source = {"npz": str(path.resolve()), "sha256": sha256, "bytes": size}
    source["examples"] = int(len(images))
    return ImageBatch(images, extra[LABEL_KEY], extra[TIMESTAMP_KEY], source)


def read_images(location: str | os.PathLike, split: str, entry: str = "production") -> ImageBatch:
    """Read `location`: an ``.npz`` file (`read_npz`) or a record directory (`read_split`).

    Raises:
      ConfigError: `location` is neither an existing .npz file nor a directory (the message
        names the config `entry` it came from).
    """
    path = Path(location).expanduser()
    if path.is_file() and path.suffix == ".npz":
        return read_npz(path)
    if path.is_dir():
        return read_split(path, split)
    raise ConfigError(
        entry, "an existing record directory (manifest.json) or .npz file", str(location)
    )


def embed_images(
    estimator: Any,
    batch: ImageBatch | np.ndarray,
    *,
    batch_size: int = 256,
    checkpoint_path: str | None = None,
) -> Embeddings:
    """Return the classifier's embedding, classes and probabilities of every image, in order.

    Args:
      estimator: the classifier Estimator (`reproml.models.classifier.make_classifier`).
      batch: an `ImageBatch`, or uint8 images [N, H, W, C].
      batch_size: images per predict batch (the result does not depend on it).
      checkpoint_path: the checkpoint to use (default: the latest in the model_dir).

    Raises:
      ConfigError: the images are not uint8 [N, *params["image_shape"]].
      ValueError: the Estimator has no checkpoint.
    """
    import tensorflow as tf

    if not isinstance(batch, ImageBatch):
        batch = ImageBatch(batch)
    check_images(batch.images, estimator.params.get("image_shape"))
    images = batch.images

    def input_fn() -> tf.data.Dataset:
        return tf.data.Dataset.from_tensor_slices({IMAGE_KEY: images}).batch(batch_size)

    outputs: dict[str, list[np.ndarray]] = {"embedding": [], "class_ids": [], "probabilities": []}
    for predicted in estimator.predict(
        input_fn,
        predict_keys=list(outputs),
        checkpoint_path=checkpoint_path,
        yield_single_examples=False,
    ):
        for key, values in outputs.items():
            values.append(np.asarray(predicted[key]))
    return Embeddings(
        np.concatenate(outputs["embedding"]).astype(np.float32),
        np.concatenate(outputs["class_ids"]).astype(np.int64),
        np.concatenate(outputs["probabilities"]).astype(np.float32),
        batch,
    )


def embed_saved_model(
    export_dir: str | os.PathLike, images: np.ndarray, *, batch_size: int = 256
) -> dict[str, np.ndarray]:
    """Call the SavedModel's ``serving_default`` signature on `images`, as production would.

    Returns:
      ``{"embedding", "class_ids", "probabilities"(, "classes")}`` as NumPy arrays, in order.

    Raises:
      RecordError: `export_dir` holds no SavedModel with a ``serving_default`` signature that
        returns ``embedding``.
      ConfigError: `images` is not uint8 [N, H, W, C].
    """
    import tensorflow as tf

    export_dir = Path(export_dir)
    if not (export_dir / "saved_model.pb").is_file():
        raise RecordError(str(export_dir), "holds no saved_model.pb", "Export the model first")
    signature = tf.saved_model.load(str(export_dir)).signatures.get("serving_default")
    outputs = set(signature.structured_outputs) if signature is not None else set()
    if "embedding" not in outputs:
        raise RecordError(
            str(export_dir),
            f"its serving_default signature returns {sorted(outputs)}, no 'embedding'",
            "Export it again with reproml.models.export.export_classifier",
        )
    check_images(images, None)
    results: dict[str, list[np.ndarray]] = {key: [] for key in sorted(outputs)}
    for start in range(0, len(images), batch_size):
        chunk = signature(**{IMAGE_KEY: tf.constant(images[start : start + batch_size])})
        for key in results:
            results[key].append(chunk[key].numpy())
    return {key: np.concatenate(values) for key, values in results.items()}


def save_embeddings(embeddings: Embeddings, path: str | os.PathLike) -> Path:
    """Write `embeddings` as an ``.npz``; returns the path.

    Arrays: embedding, class_ids, probabilities, and the data's label and timestamp when known.
    """
    arrays = {
        "embedding": embeddings.embedding,
        "class_ids": embeddings.class_ids,
        "probabilities": embeddings.probabilities,
    }
    if embeddings.data.labels is not None:
        arrays[LABEL_KEY] = embeddings.data.labels
    if embeddings.data.timestamps is not None:
        arrays[TIMESTAMP_KEY] = embeddings.data.timestamps
    path = Path(path)
    np.savez_compressed(path, **arrays)
    return path
