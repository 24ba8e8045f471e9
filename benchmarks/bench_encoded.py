"""Benchmark 7: a folder of variable-size JPEGs into decoded, resized, batched tensors.

    ours:     write_records(EncodedImageHandler) once -> input_fn, one pass (n_epochs=1),
              with each decode policy: decode_scale="full" and decode_scale="auto"
    baseline: tf.keras.utils.image_dataset_from_directory(folder), one pass
    stages:   the files' bytes held in memory -> parallel map -> batch: decode only (full,
              auto, ratio 8), decode + resize (full, auto): what the decode costs alone

Same folder, same size (bilinear resize to `SIZE`), same batch, no shuffle on either side; the
two sides alternate (A B A B ...) and the best and median repeat of each are reported. Before
a ratio is given, both sides' work is checked: the same example count and per-class label
counts. Also reported: the bytes of the encoded records vs the raw uint8 pixels of the same
images at `SIZE` (what a raw-pixel record set holds), and the time to write the records. Each side's CPU time (this process, all threads, the
least of the repeats, per example) is reported beside the wall clock: on a shared machine it
says how much work a side does, which the wall clock of a contended core does not.
"""

from __future__ import annotations

import dataclasses
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import tensorflow as tf
from PIL import Image

from handlers.encoded_image import EncodedImageHandler
from handlers.label import ClassLabelHandler
from reproml.records.reader import dataset_from_records, input_fn
from reproml.records.spec import FeatureSpec
from reproml.records.writer import write_records

SIZE = (128, 128)
BATCH = 64
CLASSES = ("apple", "banana", "fig")


def make_jpeg_folder(root: Path, n: int, seed: int = 0) -> Path:
    """Write `n` JPEGs of 150-400 px (smooth gradients plus noise) as ``root/<class>/<i>.jpg``."""
    rng = np.random.default_rng(seed)
    for name in CLASSES:
        (root / name).mkdir(parents=True, exist_ok=True)
    for i in range(n):
        height, width = (int(d) for d in rng.integers(150, 401, 2))
        y = np.linspace(0, 1, height)[:, None, None]
        x = np.linspace(0, 1, width)[None, :, None]
        colour = rng.uniform(0, 255, (1, 1, 3))
        image = colour * (0.5 + 0.5 * y) * (0.5 + 0.5 * x) + rng.normal(0, 8, (height, width, 3))
        picture = Image.fromarray(np.clip(image, 0, 255).astype(np.uint8))
        picture.save(root / CLASSES[i % len(CLASSES)] / f"{i:05d}.jpg", quality=90)
    return root


def write_encoded(folder: Path, record_dir: Path, decode_scale: str = "full") -> float:
    """Write the folder as encoded-image records (train split); return the seconds taken."""
    files = sorted(folder.glob("*/*.jpg"))
    rows = [{"image": path, "label": CLASSES.index(path.parent.name)} for path in files]
    start = time.perf_counter()
    write_records(
        str(record_dir),
        "{split}-{idx:05d}.tfrecord",
        {
            "image": EncodedImageHandler(size=SIZE, decode_scale=decode_scale),
            "label": ClassLabelHandler(names=CLASSES),
        },
        samples_per_record=max(1, len(rows) // 4),
        split_to_size={"train": len(rows)},
        rows_gen=lambda split: iter(rows),
        progress=False,
    )
    return time.perf_counter() - start


def _epoch(dataset: tf.data.Dataset) -> tuple[int, np.ndarray, tuple[int, ...]]:
    """Iterate one pass; return (examples, per-class counts, one image's shape)."""
    counts = np.zeros(len(CLASSES), np.int64)
    examples, shape = 0, ()
    for images, labels in dataset:
        examples += int(labels.shape[0])
        counts += np.bincount(labels.numpy().astype(np.int64), minlength=len(CLASSES))
        shape = tuple(images.shape[1:])
    return examples, counts, shape


def ours(record_dir: Path) -> Callable[[], tuple[int, np.ndarray, tuple[int, ...]]]:
    """reproml: input_fn over the encoded records (decode + resize inside the pipeline)."""
    fn = input_fn("train", BATCH, record_dir, n_epochs=1, shuffle=False)
    dataset = fn().map(lambda features, labels: (features["image"], labels))
    return lambda: _epoch(dataset)


def _resized(image: tf.Tensor) -> tf.Tensor:
    return tf.saturate_cast(tf.round(tf.image.resize(image, SIZE)), tf.uint8)


def stages(folder: Path) -> dict[str, Callable[[], tuple[int, np.ndarray, tuple[int, ...]]]]:
    """The decode work alone: the files' bytes in memory -> parallel map -> batch (no records).

    "decode" sides keep one pixel per image (the images differ in size, so cannot be batched);
    "ratio 8" is the least decode work libjpeg can do (entropy decoding of every coefficient,
    an 8x8 inverse DCT reduced to one value per block): a floor for any pipeline that decodes.
    """
    files = sorted(folder.glob("*/*.jpg"))
    labels = [CLASSES.index(path.parent.name) for path in files]
    data = tf.data.Dataset.from_tensor_slices(
        ([path.read_bytes() for path in files], tf.constant(labels, tf.int64))
    ).cache()
    full_spec = FeatureSpec("encoded_image", "uint8", (*SIZE, 3), None, "resize", "bilinear")
    auto_spec = dataclasses.replace(full_spec, decode_scale="auto")
    works = {
        "decode_full": lambda e: tf.io.decode_jpeg(e, channels=3)[:1, :1],
        "decode_auto": lambda e: auto_spec._decode_pixels(e)[:1, :1],
        "decode_ratio8": lambda e: tf.io.decode_jpeg(e, channels=3, ratio=8)[:1, :1],
        "decode_integer_fast": lambda e: tf.io.decode_jpeg(
            e, channels=3, dct_method="INTEGER_FAST"
        )[:1, :1],
        "decode_resize_full": lambda e: _resized(tf.io.decode_jpeg(e, channels=3)),
        "decode_resize_auto": lambda e: _resized(auto_spec._decode_pixels(e)),
    }

    def side(work: Callable[[tf.Tensor], tf.Tensor]) -> Callable[[], tuple]:
        mapped = data.map(lambda e, label: (work(e), label), num_parallel_calls=tf.data.AUTOTUNE)
        dataset = mapped.batch(BATCH).prefetch(tf.data.AUTOTUNE)
        return lambda: _epoch(dataset)

    return {f"stage_{name}": side(work) for name, work in works.items()}


def per_record(record_dir: Path) -> Callable[[], tuple[int, np.ndarray, tuple[int, ...]]]:
    """reproml: dataset_from_records one example at a time, decoded in a parallel map, batched.

    Where the decode work of `input_fn` could go (it decodes a whole batch in one map call).
    """
    dataset = dataset_from_records("train", record_dir, keys=["image", "label"])
    dataset = dataset.map(lambda example: (example["image"], example["label"]))
    dataset = dataset.batch(BATCH).prefetch(tf.data.AUTOTUNE)
    return lambda: _epoch(dataset)


def baseline(folder: Path) -> Callable[[], tuple[int, np.ndarray, tuple[int, ...]]]:
    """What a user writes instead: image_dataset_from_directory, same size and batch."""
    dataset = tf.keras.utils.image_dataset_from_directory(
        str(folder),
        labels="inferred",
        class_names=list(CLASSES),
        image_size=SIZE,
        batch_size=BATCH,
        shuffle=False,
        interpolation="bilinear",
    ).prefetch(tf.data.AUTOTUNE)
    return lambda: _epoch(dataset)


def bench(folder: Path, record_dir: Path, repeats: int) -> dict:
    """Write the records, then time all sides alternating; return sizes, times and checks."""
    write_s = write_encoded(folder, record_dir)
    auto_dir = record_dir.with_name(record_dir.name + "-auto")
    write_encoded(folder, auto_dir, decode_scale="auto")
    sides = {
        "input_fn_encoded_records": ours(record_dir),
        "input_fn_decode_scale_auto": ours(auto_dir),
        "dataset_from_records_per_record": per_record(record_dir),
        "image_dataset_from_directory": baseline(folder),
        **stages(folder),
    }
    seconds: dict[str, list[float]] = {name: [] for name in sides}
    cpu: dict[str, list[float]] = {name: [] for name in sides}  # this process's CPU seconds
    work = {}
    for name, run in sides.items():  # one warm-up pass each (graph building, file cache)
        work[name] = run()
    first = work["image_dataset_from_directory"]
    for name, (examples, counts, shape) in work.items():
        if name.startswith("stage_decode_") and not name.startswith("stage_decode_resize"):
            shape = first[2]  # one pixel kept per image
        if examples != first[0] or not np.array_equal(counts, first[1]) or shape != first[2]:
            raise AssertionError(f"the sides read different examples: {work}")
    for _ in range(repeats):
        for name, run in sides.items():
            start, start_cpu = time.perf_counter(), time.process_time()
            run()
            seconds[name].append(time.perf_counter() - start)
            cpu[name].append(time.process_time() - start_cpu)
    n = first[0]
    files = sorted(folder.glob("*/*.jpg"))
    records = sorted(record_dir.glob("*.tfrecord"))
    return {
        "examples": n,
        "size": list(SIZE),
        "batch": BATCH,
        "label_counts": first[1].tolist(),
        "write_records_s": write_s,
        "jpeg_files_bytes": sum(p.stat().st_size for p in files),
        "encoded_records_bytes": sum(p.stat().st_size for p in records),
        "raw_pixels_bytes": n * SIZE[0] * SIZE[1] * 3,
        "sides": {
            name: {
                "best_s": min(times),
                "median_s": statistics.median(times),
                "best_per_s": n / min(times),
                "median_per_s": n / statistics.median(times),
                "repeats": times,
                "cpu_ms_per_example": 1000 * min(cpu[name]) / n,
            }
            for name, times in seconds.items()
        },
    }


def run(n: int = 600, repeats: int = 5) -> dict:
    """Benchmark 7 on a fresh folder of `n` JPEGs (in a temporary directory)."""
    with tempfile.TemporaryDirectory(prefix="reproml-bench-jpeg-") as tmp:
        folder = make_jpeg_folder(Path(tmp) / "photos", n)
        return bench(folder, Path(tmp) / "records", repeats)
