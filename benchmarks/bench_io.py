"""Benchmarks 1 and 2: write_records and input_fn against the naive pipelines, side by side.

Every comparison runs both sides in the same process and run, alternating (A B A B A B), and
reports the best (fastest) repeat of each: noise on a shared machine only ever adds time. Before a ratio is reported, both sides' work is checked:
the same example count and the same per-class label counts, read back from what they wrote or
from what they yielded.
"""

from __future__ import annotations

import json
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import tensorflow as tf

from benchmarks.data import label_checksum
from handlers.image import ImageArrayHandler
from handlers.label import ClassLabelHandler
from reproml.records import reader, whole_shards
from reproml.records.manifest import MANIFEST_NAME, load_manifest
from reproml.records.reader import input_fn
from reproml.records.writer import write_records

PATTERN = "{split}-{idx:05d}.tfrecord"
SAMPLES_PER_RECORD = 5_000
BATCH = 256


def naive_write(x: np.ndarray, y: np.ndarray, out_dir: Path, compression: str | None) -> list[Path]:
    """The baseline: one tf.train.Example per row, one tf.io.TFRecordWriter, one process."""
    path = out_dir / "naive.tfrecord"
    with tf.io.TFRecordWriter(str(path), options=compression) as writer:
        for image, label in zip(x, y, strict=True):
            example = tf.train.Example(
                features=tf.train.Features(
                    feature={
                        "image": tf.train.Feature(
                            bytes_list=tf.train.BytesList(value=[image.tobytes()])
                        ),
                        "label": tf.train.Feature(
                            int64_list=tf.train.Int64List(value=[int(label)])
                        ),
                    }
                )
            )
            writer.write(example.SerializeToString())
    return [path]


def ours_write(
    x: np.ndarray,
    y: np.ndarray,
    out_dir: Path,
    compression: str | None,
    samples_per_record: int = SAMPLES_PER_RECORD,
) -> list[Path]:
    """reproml: write_records with the MNIST handlers (validation included), parallel shards."""

    def rows_gen(split):
        for image, label in zip(x, y, strict=True):
            yield {"image": image, "label": label}

    write_records(
        str(out_dir),
        PATTERN,
        {"image": ImageArrayHandler(shape=(28, 28, 1)), "label": ClassLabelHandler(num_classes=10)},
        samples_per_record,
        {"train": len(x)},
        rows_gen,
        compression=compression,
        progress=False,
    )
    return load_manifest(out_dir).shard_paths(out_dir, "train")


def labels_in(paths: list[Path], compression: str | None) -> np.ndarray:
    """Reads every label back from written shards (to check both writers did the same work)."""
    spec = {"label": tf.io.FixedLenFeature([], tf.int64)}
    ds = tf.data.TFRecordDataset([str(p) for p in paths], compression_type=compression or "")
    ds = ds.batch(4096).map(lambda s: tf.io.parse_example(s, spec)["label"])
    return np.concatenate([b.numpy() for b in ds])


def docs_pipeline(paths: list[Path], compression: str | None) -> tf.data.Dataset:
    """Baseline (a): the original docs' per-example map(parse_single_example), then batch."""
    spec = {
        "image": tf.io.FixedLenFeature([], tf.string),
        "label": tf.io.FixedLenFeature([], tf.int64),
    }

    def parse(serialized):
        example = tf.io.parse_single_example(serialized, spec)
        image = tf.reshape(tf.io.decode_raw(example["image"], tf.uint8), [28, 28, 1])
        return {"image": image}, example["label"]

    ds = tf.data.TFRecordDataset([str(p) for p in paths], compression_type=compression or "")
    return ds.map(parse).batch(BATCH)


def in_memory_pipeline(x: np.ndarray, y: np.ndarray) -> tf.data.Dataset:
    """Baseline (b): the arrays already in memory, from_tensor_slices((x, y)).batch(...)."""
    return tf.data.Dataset.from_tensor_slices(({"image": x[..., None]}, y)).batch(BATCH)


def old_manifest_copy(record_dir: Path, out_dir: Path) -> Path:
    """Hard-link `record_dir`'s shards into `out_dir` with a manifest from before the record index.

    `input_fn` reads such a directory record by record (the reader before the index).
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    manifest = load_manifest(record_dir)
    for shard in manifest.splits["train"].shards:
        (out_dir / shard.file).hardlink_to(record_dir / shard.file)
    data = json.loads((record_dir / MANIFEST_NAME).read_text())
    for split in data["splits"].values():
        for shard in split["shards"]:
            shard.pop("record_lengths", None)
    (out_dir / MANIFEST_NAME).write_text(json.dumps(data))
    return out_dir


def input_fn_without_sha256(record_dir: Path) -> Callable[[], tf.data.Dataset]:
    """`input_fn(..., shuffle=False)` as it is built, minus the in-read sha256 check.

    Only to measure what that check costs (its own row); `input_fn` always checks.
    """
    manifest = load_manifest(record_dir)
    paths = manifest.shard_paths(record_dir, "train")

    def to_model_inputs(decoded):
        return {"image": decoded["image"]}, tf.cast(decoded["label"], tf.int64)

    def make():
        table = whole_shards.shard_table(manifest, paths, "train", range(len(paths)))
        return whole_shards.batches(
            table,
            manifest.compression,
            manifest.specs(["image", "label"]),
            then=to_model_inputs,
            batch_size=BATCH,
            shards_at_once=reader.DEFAULT_CYCLE_LENGTH,
            check_sha256=False,
        ).prefetch(tf.data.AUTOTUNE)

    return make


def drain(dataset: tf.data.Dataset) -> np.ndarray:
    """Iterates a (features, labels) dataset once; returns every label seen."""
    return np.concatenate([labels.numpy() for _, labels in dataset])


def alternate(sides: dict[str, Callable[[], tuple[int, object]]], repeats: int) -> dict[str, dict]:
    """Runs each side `repeats` times, interleaved; returns best and median seconds, work checked."""
    times: dict[str, list[float]] = {name: [] for name in sides}
    cpu: dict[str, list[float]] = {name: [] for name in sides}
    checks: dict[str, object] = {}
    for _ in range(repeats):
        for name, run in sides.items():
            start, start_cpu = time.perf_counter(), time.process_time()
            count, check = run()
            times[name].append(time.perf_counter() - start)
            cpu[name].append(time.process_time() - start_cpu)
            if checks.setdefault(name, check) != check:
                raise AssertionError(
                    f"{name} did different work on a repeat: {check} != {checks[name]}"
                )
    reference = next(iter(checks.values()))
    for name, check in checks.items():
        if check != reference:
            raise AssertionError(f"{name} did not do the same work: {check} != {reference}")
    return {
        name: {
            "seconds": min(t),  # best of the repeats: noise on a shared machine only adds time
            "median_seconds": statistics.median(t),
            "examples": reference[0],
            "runs": t,
            # CPU seconds of the whole process (all threads): steadier than wall time when
            # other jobs share the cores, and the measure of work done, not of waiting.
            "cpu_seconds": min(cpu[name]),
            "median_cpu_seconds": statistics.median(cpu[name]),
        }
        for name, t in times.items()
    }


def bench_write(
    x: np.ndarray, y: np.ndarray, compression: str | None, repeats: int
) -> dict[str, dict]:
    """Benchmark 1 for one compression: naive loop vs write_records."""
    root = Path(tempfile.mkdtemp(prefix="reproml-bench-write-"))

    def side(writer):
        def run():
            out = root / writer.__name__
            shutil.rmtree(out, ignore_errors=True)
            out.mkdir()
            paths = writer(x, y, out, compression)
            return len(x), label_checksum(labels_in(paths, compression))

        return run

    try:
        return alternate(
            {"naive_loop": side(naive_write), "write_records": side(ours_write)}, repeats
        )
    finally:
        shutil.rmtree(root, ignore_errors=True)


def bench_read(
    x: np.ndarray, y: np.ndarray, compression: str | None, repeats: int
) -> dict[str, dict]:
    """Benchmark 2 for one compression: input_fn vs the docs pipeline and the in-memory one.

    Also: `input_fn` on the same shards with a manifest from before the record index (the
    record-by-record reader), and `input_fn` without its sha256 check (what the check costs).
    """
    root = Path(tempfile.mkdtemp(prefix="reproml-bench-read-"))
    try:
        ours_write(x, y, root / "new", compression)
        paths = load_manifest(root / "new").shard_paths(root / "new", "train")
        old = old_manifest_copy(root / "new", root / "old")

        def check(dataset_fn):
            def run():
                labels = drain(dataset_fn())
                return len(labels), label_checksum(labels)

            return run

        sides = {
            "docs_map_parse_single": check(lambda: docs_pipeline(paths, compression)),
            "in_memory_from_tensor_slices": check(lambda: in_memory_pipeline(x, y)),
            "input_fn": check(input_fn("train", BATCH, root / "new", n_epochs=1, shuffle=False)),
            "input_fn_old_manifest": check(
                input_fn("train", BATCH, old, n_epochs=1, shuffle=False)
            ),
            "input_fn_without_sha256": check(input_fn_without_sha256(root / "new")),
        }
        return alternate(sides, repeats)
    finally:
        shutil.rmtree(root, ignore_errors=True)
