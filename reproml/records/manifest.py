"""The dataset manifest: schema, shards, counts and fingerprint of a record directory.

`write_records` writes ``manifest.json`` next to the shards; the input functions read the
parse spec from it and `verify` recomputes its hashes. Layout (JSON)::

    {
      "format_version": 1,
      "record_pattern": "{split}-{idx:05d}.tfrecord",
      "compression": "GZIP" | "ZLIB" | null,
      "samples_per_record": 1000,
      "schema": {"image": {"description": "...", "handler": "handlers.image.ImageArrayHandler",
                           "spec": {"encoding": "tensor_bytes", "dtype": "uint8", "shape": [28, 28, 1]}}},
      "splits": {"train": {"num_examples": 60000,
                           "shards": [{"file": "train-00000.tfrecord", "bytes": 123, "records": 1000,
                                       "sha256": "...", "record_lengths": "eJz7..."}],
                           "label_histogram": {"label": {"0": 5923, ...}}}},
                           # every class-id feature with names: examples per class of a
                           # class label or a label set, boxes per class of box labels
      "source": {...free-form: where the rows came from...},
      "fingerprint": "sha256 of schema + compression + every shard's sha256, in split order"
    }

``record_lengths`` (optional; written since reader version 2, see `reproml.records.record_index`)
is the shard's record index: the byte length of every serialized example, in order, as base64 of
the zlib-compressed little-endian uint32 array. With it the reader cuts whole shards into records
with vectorized string ops; a manifest without it is read record by record, as before. It is
derived from the shard's bytes (which the sha256 binds), so it is not part of the fingerprint.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from pathlib import Path
from typing import Any

from reproml.errors import RecordError
from reproml.records.atomic_write import write_atomic
from reproml.records.spec import FeatureSpec

MANIFEST_NAME = "manifest.json"
FORMAT_VERSION = 1
COMPRESSIONS = (None, "GZIP", "ZLIB")


@dataclasses.dataclass(frozen=True)
class ShardInfo:
    """One shard file: its name (relative to the record dir), size, record count and sha256.

    `record_lengths` is the shard's record index (`reproml.records.record_index`), or None in
    manifests written before it existed.
    """

    file: str
    bytes: int
    records: int
    sha256: str
    record_lengths: str | None = None

    def to_json(self) -> dict[str, Any]:
        """Returns the shard's JSON entry (without ``record_lengths`` when there is none)."""
        entry = dataclasses.asdict(self)
        if self.record_lengths is None:
            del entry["record_lengths"]
        return entry


@dataclasses.dataclass
class SplitInfo:
    """One split: its example count, its shards in order, and label histograms by key."""

    num_examples: int
    shards: list[ShardInfo]
    label_histogram: dict[str, dict[str, int]] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class SchemaEntry:
    """One feature of the schema."""

    description: str
    handler: str
    spec: FeatureSpec


@dataclasses.dataclass
class Manifest:
    """Everything known about a record directory.

    `record_dir` is the directory the manifest was loaded from (`load_manifest`) or saved to
    (`save`, which `write_records` calls), so a Manifest can stand for its directory (e.g. in
    `input_fn`); None for one built in memory and never saved. It is not part of the JSON, of
    the fingerprint, or of equality.
    """

    record_pattern: str
    compression: str | None
    samples_per_record: int
    schema: dict[str, SchemaEntry]
    splits: dict[str, SplitInfo]
    source: dict[str, Any] = dataclasses.field(default_factory=dict)
    fingerprint: str = ""
    format_version: int = FORMAT_VERSION
    record_dir: Path | None = dataclasses.field(default=None, compare=False)

    def specs(self, keys: list[str] | None = None) -> dict[str, FeatureSpec]:
        """Returns ``{key: FeatureSpec}`` for `keys` (default: every key of the schema)."""
        keys = list(self.schema) if keys is None else keys
        unknown = [k for k in keys if k not in self.schema]
        if unknown:
            raise KeyError(f"keys {unknown} are not in the dataset schema {sorted(self.schema)}")
        return {k: self.schema[k].spec for k in keys}

    def class_count_unit(self, key: str) -> str:
        """What the label histogram of `key` counts: "examples" or "boxes".

        A class label or a set of class labels (a class at most once per example) counts
        examples; the ``<boxes>/label`` ids of a boxes feature (``<boxes>`` float32 (-1, 4))
        count boxes.
        """
        boxes = self.schema.get(key.removesuffix("/label")) if key.endswith("/label") else None
        if boxes is not None and boxes.spec.encoding == "ragged_float32":
            return "boxes"
        return "examples"

    def shard_paths(self, record_dir: str | os.PathLike, split: str) -> list[Path]:
        """Returns the absolute paths of `split`'s shards, in order."""
        if split not in self.splits:
            raise RecordError(
                Path(record_dir) / MANIFEST_NAME,
                f"has no split {split!r} (it has {sorted(self.splits)})",
            )
        return [Path(record_dir) / shard.file for shard in self.splits[split].shards]

    def compute_fingerprint(self) -> str:
        """Returns the sha256 of the schema, compression and every shard hash in split order."""
        payload = {
            "schema": {
                k: {"handler": e.handler, "spec": e.spec.to_json()}
                for k, e in sorted(self.schema.items())
            },
            "compression": self.compression,
            "splits": {
                s: [sh.sha256 for sh in info.shards] for s, info in sorted(self.splits.items())
            },
        }
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode("utf-8")).hexdigest()

    def to_json(self) -> dict[str, Any]:
        """Returns the JSON form written to ``manifest.json``."""
        return {
            "format_version": self.format_version,
            "record_pattern": self.record_pattern,
            "compression": self.compression,
            "samples_per_record": self.samples_per_record,
            "schema": {
                k: {"description": e.description, "handler": e.handler, "spec": e.spec.to_json()}
                for k, e in self.schema.items()
            },
            "splits": {
                s: {
                    "num_examples": info.num_examples,
                    "shards": [sh.to_json() for sh in info.shards],
                    "label_histogram": info.label_histogram,
                }
                for s, info in self.splits.items()
            },
            "source": self.source,
            "fingerprint": self.fingerprint,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Manifest:
        """Reads the JSON form written by `to_json`."""
        return cls(
            record_pattern=data["record_pattern"],
            compression=data["compression"],
            samples_per_record=data["samples_per_record"],
            schema={
                k: SchemaEntry(e["description"], e["handler"], FeatureSpec.from_json(e["spec"]))
                for k, e in data["schema"].items()
            },
            splits={
                s: SplitInfo(
                    num_examples=info["num_examples"],
                    shards=[ShardInfo(**sh) for sh in info["shards"]],
                    label_histogram=info.get("label_histogram", {}),
                )
                for s, info in data["splits"].items()
            },
            source=data.get("source", {}),
            fingerprint=data.get("fingerprint", ""),
            format_version=data.get("format_version", FORMAT_VERSION),
        )

    def save(self, record_dir: str | os.PathLike) -> Path:
        """Writes ``manifest.json`` atomically (temp file + rename) and returns its path.

        Afterwards `self.record_dir` is `record_dir`.
        """
        path = Path(record_dir) / MANIFEST_NAME
        write_atomic(path, json.dumps(self.to_json(), indent=2, sort_keys=False) + "\n")
        self.record_dir = Path(record_dir)
        return path


def load_manifest(record_dir: str | os.PathLike) -> Manifest:
    """Reads ``manifest.json`` of `record_dir`; the manifest's `record_dir` is set to it.

    Raises:
      RecordError: the manifest is missing or not a valid manifest; the message names the file.
    """
    path = Path(record_dir) / MANIFEST_NAME
    if not path.is_file():
        raise RecordError(
            path, "no manifest here", "Serialize the data first (write_records writes it)"
        )
    try:
        manifest = Manifest.from_json(json.loads(path.read_text(encoding="utf-8")))
    except (ValueError, KeyError, TypeError) as err:
        raise RecordError(
            path,
            f"is not a valid manifest ({type(err).__name__}: {err})",
            "Re-serialize the data to rewrite it",
        ) from err
    manifest.record_dir = Path(record_dir)
    return manifest
