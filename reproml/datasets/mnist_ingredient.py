"""MNIST as a Sacred ingredient: the ``dataset.*`` config, its validators, and `ensure_records`.

    from reproml.datasets.mnist_ingredient import dataset, ensure_records
    ex = rx.track(Experiment("mnist", ingredients=[dataset]))
    ...
    manifest = ensure_records()   # serialized once per config, reused, or refused (see below)
    input_fn("train", batch_size, manifest)

The records in ``dataset.data_dir`` are only ever reused by a run whose serialization entries
(`SERIALIZATION_ENTRIES`) are those they were written from; any other run is refused before
it starts, with a message naming each entry that differs (`reproml.datasets.records_ingredient`).
Experiments' ``quick`` named configs set ``dataset = QUICK``, so every quick run shares one small
record directory of its own.
"""

# Sacred reads the local variables of config scopes: they are "unused" only to ruff.
# ruff: noqa: F841
from __future__ import annotations

import re
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

mnist = lazy_import("reproml.datasets.mnist")  # loading MNIST: handlers, TensorFlow
writer = lazy_import("reproml.records.writer")  # write_records: TensorFlow

dataset = Ingredient("dataset")

# The entries that decide what the records hold: stored in the manifest, compared on reuse.
SERIALIZATION_ENTRIES = (
    "data_path",
    "data_sha256",
    "allow_download",
    "max_examples",
    "samples_per_record",
    "compression",
)
# The dataset entries of every experiment's `quick` named config (tests, CI).
QUICK = {
    "data_dir": "data/mnist/quick-records",
    "allow_download": False,
    "max_examples": 256,
    "samples_per_record": 100,
}
# How max_examples cuts MNIST (recorded in the manifest's source["subset"]); every class kept
# or not, the run records its examples per class and warns of a split that lacks one.
FIRST_ROWS = "the first rows of each split (MNIST and the digits fallback are in random order)"
_SHA256 = re.compile(r"^[0-9a-fA-F]{64}$")


@dataset.config
def config() -> None:
    """Configure the records: all of MNIST (downloaded and sha256-checked if not cached)."""
    data_dir = "data/mnist/records"  # TFRecords + manifest.json; serialized here when missing
    data_path = None  # a Keras-layout mnist.npz to serialize; None: cached/downloaded MNIST
    data_sha256 = None  # pin the exact npz file by its hex sha256 (None: any; its hash is recorded)
    allow_download = True  # download MNIST (sha256-checked) if not cached; else digits fallback
    max_examples = None  # serialize at most this many examples per split (None: all)
    samples_per_record = 10000  # examples per TFRecord shard
    compression = None  # shard compression: None, "GZIP" or "ZLIB"
    overwrite_records = False  # True: serialize again; False: reuse same-config records only


def check_mnist_entries(entries: Mapping[str, Any], path: str) -> None:
    """Refuse a missing ``data_path``, a non-bool ``allow_download`` or a malformed sha256."""
    rx.check_existing_path(entries, f"{path}.data_path")
    records.check_bool(entries, f"{path}.allow_download")
    sha256 = entries[f"{path}.data_sha256"]
    if sha256 is not None and not (isinstance(sha256, str) and _SHA256.match(sha256)):
        raise ConfigError(f"{path}.data_sha256", "None or a sha256 of 64 hex digits", sha256)


def serialization(own: Mapping[str, Any]) -> dict[str, Any]:
    """Return the serialization entries of the ingredient's config, ``data_path`` absolute."""
    return records.serialization_of(own, SERIALIZATION_ENTRIES)


records.add_config_check(dataset, check_mnist_entries, serialization)


def write_mnist_records(data_dir: str, chosen: dict[str, Any]) -> Manifest:
    """Write MNIST (or the digits fallback) into `data_dir` as `chosen` says; store `chosen`.

    Args:
      data_dir: the record directory.
      chosen: the serialization entries (`SERIALIZATION_ENTRIES`); stored in the manifest's source
        under ``"serialization"`` next to what `load_mnist` says it loaded (file, sha256).
    """
    arrays, source = mnist.load_mnist(
        chosen["data_path"],
        pin_sha256=chosen["data_sha256"],
        allow_download=chosen["allow_download"],
    )
    if chosen["max_examples"] is not None:
        source["subset"] = {"method": FIRST_ROWS, "max_examples": chosen["max_examples"]}
    return writer.write_records(
        data_dir,
        "{split}-{idx:05d}.tfrecord",
        mnist.mnist_keys_to_handlers(),
        chosen["samples_per_record"],
        rx.split_sizes_limited(mnist.mnist_split_sizes(arrays), chosen["max_examples"]),
        lambda split: mnist.mnist_rows(arrays, split),
        compression=chosen["compression"],
        source={**source, records.SERIALIZATION_KEY: chosen},
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
    """
    return records.ensure_records(
        _run,
        data_dir,
        serialization(_config),
        lambda chosen: write_mnist_records(data_dir, chosen),
        overwrite=overwrite_records,
        path=dataset.path,
        name="mnist",
    )


def serialize_records() -> str:
    """Run an experiment's ``serialize`` command: `ensure_records`, then print its fingerprint.

    Returns:
      The dataset fingerprint (the command's result).
    """
    return records.serialize(ensure_records)
