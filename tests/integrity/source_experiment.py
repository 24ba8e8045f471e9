"""A dataset ingredient over an image folder, an npz or an HDF5 file, as a user writes one.

Built from the framework's parts only (`reproml.datasets.records_ingredient`, `reproml.records.sources`,
`reproml.records.subset.limit_examples`): the ``serialize`` command writes or reuses the records
of ``dataset.data_path``, ``main`` does the same and prints the run summary. The sources:

    <folder>/train/<class>/*.png, <folder>/test/<class>/*.png   RGB 8x8 images
    *.npz   x_train, y_train, x_test, y_test (uint8 [N, 8, 8, 3], int labels)
    *.h5    train/x, train/y, test/x, test/y (the same arrays)
"""

# Sacred reads the local variables of config scopes: they are "unused" only to ruff.
# ruff: noqa: F841
from __future__ import annotations

from pathlib import Path
from typing import Any

from sacred import Experiment, Ingredient

from handlers.image import ImageArrayHandler, ImageFileHandler
from handlers.label import ClassLabelHandler
from reproml.datasets import records_ingredient as records
from reproml.records.manifest import Manifest
from reproml.records.sources import RowSource, rows_from_hdf5, rows_from_image_folder, rows_from_npz
from reproml.records.subset import limit_examples
from reproml.records.writer import write_records
from reproml.tracking import experiment as rx

SHAPE = (8, 8, 3)
NUMBERED_CLASSES = ("a", "b", "c")  # the names of labels 0, 1, 2 of an npz / HDF5 file
SERIALIZATION = ("data_path", "max_examples", "subset_seed", "samples_per_record", "compression")

dataset = Ingredient("dataset")


@dataset.config
def dataset_config() -> None:
    """Configure the records."""
    name = "shapes"  # the dataset's name, stored in the manifest's source
    data_path = ""  # an image folder (train/, test/), an .npz or an .h5 file
    max_examples = None  # at most this many examples per split: a stratified, seeded subset
    subset_seed = 0  # the seed of that subset
    samples_per_record = 50  # examples per TFRecord shard
    compression = None  # shard compression: None, "GZIP" or "ZLIB"
    data_dir = "records"  # TFRecords + manifest.json
    overwrite_records = False  # True: serialize again; False: reuse same-config records only


@dataset.config_hook
def check_dataset(config: dict, command_name: str, logger: Any) -> dict:
    """Refuse bad values, and records of another config or a changed source, before anything."""
    entries = records.prefixed_entries(config, "dataset")
    records.check_record_entries(entries, "dataset")
    rx.check_existing_path(entries, "dataset.data_path", allow_none=False)
    rx.check_seed(entries, "dataset.subset_seed")
    wanted = records.serialization_of(config["dataset"], SERIALIZATION)
    records.refuse_other_records(config, command_name, "dataset", wanted)
    return {}


def row_source(data_path: str) -> RowSource:
    """The rows of `data_path`: an image folder, an npz or an HDF5 file."""
    path = Path(data_path)
    if path.is_dir():
        return rows_from_image_folder({"train": path / "train", "test": path / "test"})
    if path.suffix == ".npz":
        return rows_from_npz(path, "image", eval_size=0)
    splits = {s: {"image": f"{s}/x", "label": f"{s}/y"} for s in ("train", "test")}
    return rows_from_hdf5(path, splits)


def write_source_records(data_dir: str, name: str, chosen: dict) -> Manifest:
    """Write the records of `chosen` (its data_path, max_examples, ...) into `data_dir`."""
    src = limit_examples(
        row_source(chosen["data_path"]), chosen["max_examples"], seed=chosen["subset_seed"]
    )
    if src.class_names is not None:
        image = ImageFileHandler(delegate_to=ImageArrayHandler(shape=SHAPE), mode="RGB")
        names = src.class_names
    else:
        image, names = ImageArrayHandler(shape=SHAPE), NUMBERED_CLASSES
    return write_records(
        data_dir,
        "{split}-{idx:05d}.tfrecord",
        {"image": image, "label": ClassLabelHandler(names=names)},
        chosen["samples_per_record"],
        {s: n for s, n in src.split_to_size.items() if s in ("train", "test")},
        src.rows_gen,
        compression=chosen["compression"],
        source={**src.source, "name": name, records.SERIALIZATION_KEY: chosen},
        splits=("train", "test"),
        num_workers=0,
        progress=False,
    )


@dataset.capture
def ensure_records(_run: Any, _config: dict, name: str, data_dir: str, overwrite_records: bool):
    """Return the manifest of this config's records (reused or written now); record them."""
    return records.ensure_records(
        _run,
        data_dir,
        records.serialization_of(_config, SERIALIZATION),
        lambda chosen: write_source_records(data_dir, name, chosen),
        overwrite=overwrite_records,
        path="dataset",
        name=name,
    )


ex = rx.track(Experiment("sources", ingredients=[dataset]))


@ex.command
def serialize() -> str:
    """Write or reuse the records; the result is their fingerprint."""
    return ensure_records().fingerprint


@ex.main
def main(_run: Any) -> int:
    """Write or reuse the records and print the run summary; the result is the train size."""
    manifest = ensure_records()
    examples = manifest.splits["train"].num_examples
    rx.print_run_summary(_run, "train examples", examples)
    return examples


if __name__ == "__main__":
    rx.run_commandline(ex)
