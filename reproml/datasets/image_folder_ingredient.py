"""An image folder of your own as a Sacred ingredient: ``dataset.*`` config, validators, records.

    from reproml.datasets.image_folder_ingredient import dataset, ensure_records

    @dataset.config
    def dataset_config():
        train_dir = "data/shapes/train"  # one sub-folder of PNG/JPEG images per class
        test_dir = "data/shapes/test"  # the same class sub-folders
        data_dir = "data/shapes/records"  # TFRecords + manifest.json, written once

The folders are laid out as ``<split folder>/<class name>/<image file>``
(`reproml.records.sources.rows_from_image_folder`); the class names are the sorted sub-folder
names, the image shape is that of the first train image (every image must have it), converted
to ``image_mode``. As with MNIST, the records in ``data_dir`` are reused only by a run of the
same serialization entries (`SERIALIZATION_ENTRIES`) and pixel conversion (`IMAGE_CONVERSION`)
whose images did not change since; any other run is refused before it starts
(`reproml.datasets.records_ingredient`).
"""

# Sacred reads the local variables of config scopes: they are "unused" only to ruff.
# ruff: noqa: F841
from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from sacred import Ingredient

from reproml.datasets import records_ingredient as records
from reproml.errors import ConfigError
from reproml.lazy import lazy_import
from reproml.records.manifest import Manifest
from reproml.tracking import experiment as rx

if TYPE_CHECKING:
    from sacred.run import Run

image_handlers = lazy_import("handlers.image")  # ImageFileHandler, ImageArrayHandler: TensorFlow
label_handlers = lazy_import("handlers.label")  # ClassLabelHandler: TensorFlow
writer = lazy_import("reproml.records.writer")  # write_records: TensorFlow
# TensorFlow (handlers): loaded when records are made, after the classifier recipe's config hook
# has declared the run's CPU kernels (TensorFlow fixes its kernels when it loads).
sources = lazy_import("reproml.records.sources")  # rows_from_image_folder
subset = lazy_import("reproml.records.subset")  # limit_examples
pil_image = lazy_import("PIL.Image")

dataset = Ingredient("dataset")

# The entries that decide what the records hold: stored in the manifest, compared on reuse.
SERIALIZATION_ENTRIES = (
    "name",
    "train_dir",
    "test_dir",
    "image_mode",
    "max_examples",
    "subset_seed",
    "samples_per_record",
    "compression",
)
IMAGE_MODES = ("L", "RGB")
# How an image file becomes the pixels stored (`handlers.image.ImageFileHandler`), stored with
# the serialization entries and compared on reuse like them: records an earlier conversion
# wrote are refused, not reused (it stored 16-bit grey PNGs as all-white images). Change it
# whenever the conversion's output changes. A constant, not a config entry: no run chooses it.
IMAGE_CONVERSION = "PIL convert to image_mode; 16-bit grey scaled to 8 bits first (v/257)"


@dataset.config
def config() -> None:
    """Configure the records of an image folder (set train_dir, test_dir and data_dir)."""
    name = "images"  # the dataset's name in the records and the run
    train_dir = None  # train images: one sub-folder of PNG/JPEG files per class
    test_dir = None  # test images: the same class sub-folders
    image_mode = "RGB"  # every image converted to "RGB" or "L" (grey)
    max_examples = None  # at most this many examples per split, every class kept (None: all)
    subset_seed = 0  # the seed of the max_examples subset (stratified by class)
    samples_per_record = 1000  # examples per TFRecord shard
    compression = None  # shard compression: None, "GZIP" or "ZLIB"
    data_dir = None  # TFRecords + manifest.json; serialized here when missing
    overwrite_records = False  # True: serialize again; False: reuse same-config records only


def check_image_folder_entries(entries: Mapping[str, Any], path: str) -> None:
    """Refuse a missing folder, an empty name, an unknown image mode or a bad subset seed."""
    for folder in ("train_dir", "test_dir"):
        rx.check_existing_path(entries, f"{path}.{folder}", allow_none=False)
    name = entries[f"{path}.name"]
    if not isinstance(name, str) or not name.strip():
        raise ConfigError(f"{path}.name", "a non-empty dataset name", name)
    rx.check_choice(entries, f"{path}.image_mode", IMAGE_MODES)
    rx.check_seed(entries, f"{path}.subset_seed")


def serialization(own: Mapping[str, Any]) -> dict[str, Any]:
    """Return the serialization entries of the ingredient's config, folders made absolute.

    With them ``image_conversion`` (`IMAGE_CONVERSION`), the pixel conversion of this code.
    """
    chosen = records.serialization_of(own, SERIALIZATION_ENTRIES, ("train_dir", "test_dir"))
    return {**chosen, "image_conversion": IMAGE_CONVERSION}


records.add_config_check(dataset, check_image_folder_entries, serialization)


def write_image_folder_records(data_dir: str, chosen: dict[str, Any]) -> Manifest:
    """Write the train and test folders as records in `data_dir`; the manifest stores `chosen`.

    Raises:
      RecordError: a folder is not laid out as ``<folder>/<class name>/<image>`` (named).
      HandlerError: an image is unreadable, or its shape is not the first train image's.
    """
    src = sources.rows_from_image_folder({"train": chosen["train_dir"], "test": chosen["test_dir"]})
    src = subset.limit_examples(src, chosen["max_examples"], seed=chosen["subset_seed"])
    first = next(iter(src.rows_gen("train")))["image"]
    with pil_image.open(first) as image:
        shape = image.convert(chosen["image_mode"]).size[::-1]
    channels = 3 if chosen["image_mode"] == "RGB" else 1
    array = image_handlers.ImageArrayHandler(shape=(*shape, channels))
    handlers = {
        "image": image_handlers.ImageFileHandler(delegate_to=array, mode=chosen["image_mode"]),
        "label": label_handlers.ClassLabelHandler(names=src.class_names),
    }
    return writer.write_records(
        data_dir,
        "{split}-{idx:05d}.tfrecord",
        handlers,
        chosen["samples_per_record"],
        src.split_to_size,
        src.rows_gen,
        compression=chosen["compression"],
        source={**src.source, "name": chosen["name"], records.SERIALIZATION_KEY: chosen},
        splits=("train", "test"),
    )


@dataset.capture
def ensure_records(
    _run: Run, _config: dict[str, Any], data_dir: str, overwrite_records: bool
) -> Manifest:
    """Return the manifest of this run's records (reused, or serialized now); record the dataset.

    Raises:
      SerializationMismatchError: ``data_dir`` holds records made from other entries (and not
        ``overwrite_records``); the message names each entry with both values.
      SourceChangedError: the same entries, but an image was added, removed or changed since.
    """
    return records.ensure_records(
        _run,
        data_dir,
        serialization(_config),
        lambda chosen: write_image_folder_records(data_dir, chosen),
        overwrite=overwrite_records,
        path=dataset.path,
        name=_config["name"],
    )


def serialize_records() -> str:
    """Run an experiment's ``serialize`` command: `ensure_records`, then print its fingerprint.

    Returns:
      The dataset fingerprint (the command's result).
    """
    return records.serialize(ensure_records)
