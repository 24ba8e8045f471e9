"""Where input_fn's read time goes: each stage of the unshuffled pipeline, cumulatively.

Not a comparison (no baseline, no target): each stage adds one step of read order 2
(`reproml.records.whole_shards`) to the one before, so the stage that adds the most CPU time is
the bound. The "ceiling" rows then run each candidate bounding op alone, over data already in
memory (no file reads, no other stage): the rate that op allows on this machine, whatever the
pipeline around it. The in-memory pipeline, TensorFlow's own record reader and read order 1 (a
manifest without a record index) are timed on the same data for reference.
"""

from __future__ import annotations

import hashlib
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import tensorflow as tf
from zlib_ng import zlib_ng

from benchmarks.bench_io import BATCH, ours_write
from reproml.records import reader as inputs
from reproml.records import whole_shards
from reproml.records.batch_decode import batch_parser
from reproml.records.manifest import load_manifest
from reproml.records.verify import verify_shards


def _sha256_hex(data: bytes) -> bytes:
    return hashlib.sha256(data).hexdigest().encode("ascii")


def _zlib_ng_inflate(compression: str) -> Callable[[bytes], np.ndarray]:
    """zlib-ng's whole-stream inflate (what the writer deflates with), for a tf.numpy_function.

    An object array: a NumPy bytes array would drop trailing zero bytes.
    """
    wbits = {"GZIP": 16 + zlib_ng.MAX_WBITS, "ZLIB": zlib_ng.MAX_WBITS}[compression]
    return lambda data: np.array(zlib_ng.decompress(data, wbits=wbits), dtype=object)


def stages(
    record_dir: Path, x: np.ndarray, y: np.ndarray
) -> dict[str, Callable[[], tf.data.Dataset]]:
    """Returns each stage's dataset builder, from TF's bare reader to the full input_fn.

    Then the ceilings: each op that read order 2 runs (or ran) alone, over data already in
    memory, so that the op bounding a stage has its own measured rate.
    """
    manifest = load_manifest(record_dir)
    paths = verify_shards(manifest, record_dir, "train", "size")
    compression = manifest.compression or ""
    table = whole_shards.shard_table(manifest, paths, "train", range(len(paths)))
    at_once = min(len(paths), inputs.DEFAULT_CYCLE_LENGTH)
    lengths = tf.constant(table.lengths, tf.int64)
    files = tf.data.Dataset.from_tensor_slices(
        (table.paths, table.sha256, table.where, table.first, table.end)
    )
    specs = manifest.specs(["image", "label"])

    def whole(check: bool, decompress: bool) -> Callable[[], tf.data.Dataset]:
        def one(path, expected, where, first, end):  # noqa: ANN001, ANN202
            content = tf.io.read_file(path)
            if check:
                actual = tf.numpy_function(_sha256_hex, [content], tf.string, stateful=False)
                ok = tf.debugging.Assert(tf.equal(actual, expected), [path])
                with tf.control_dependencies([ok]):
                    content = tf.identity(content)
            if decompress and compression:
                content = tf.io.decode_compressed(content, compression_type=compression)
            return tf.strings.length(content)

        return lambda: files.map(one, num_parallel_calls=at_once, deterministic=True)

    def cut(path, expected, where, first, end):  # noqa: ANN001, ANN202
        shard_lengths = lengths[first:end]
        content, starts = whole_shards.shard_content(
            path, expected, where, shard_lengths, compression
        )
        return tf.strings.substr(content, starts, shard_lengths)

    def parsed() -> tf.data.Dataset:
        return files.map(
            lambda *shard: to_model_inputs(parse_records(cut(*shard))),
            num_parallel_calls=at_once,
            deterministic=True,
        )

    def to_model_inputs(decoded: dict) -> tuple[dict, tf.Tensor]:
        return {"image": decoded["image"]}, tf.cast(decoded["label"], tf.int64)

    # In memory, for the ceilings: one shard as stored, decompressed, cut and parsed. Each
    # ceiling runs its op on that shard once per shard of the split (the same tensor each
    # time: no copy, no read), in a map as parallel as the stage's.
    n_shards = len(paths)
    stored = tf.io.read_file(str(paths[0]))
    content, starts = whole_shards.shard_content(
        str(paths[0]), table.sha256[0], table.where[0], lengths[: table.end[0]], compression
    )
    shard_lengths = lengths[: table.end[0]]
    records = tf.strings.substr(content, starts, shard_lengths)
    parse_records = batch_parser(specs, skip=[])
    parsed_shard = to_model_inputs(parse_records(records))
    one_batch = records[:BATCH]
    n_batches = -(-len(x) // BATCH)

    def alone(value: object, op: Callable, times: int = n_shards) -> tf.data.Dataset:
        return (
            tf.data.Dataset.from_tensors(value)
            .repeat(times)
            .map(op, num_parallel_calls=at_once, deterministic=True)
        )

    return {
        "reference: from_tensor_slices(arrays in memory).batch": lambda: (
            tf.data.Dataset.from_tensor_slices(({"image": x[..., None]}, y)).batch(BATCH)
        ),
        "reference: TFRecordDataset(8 shards, record-by-record interleave).batch": lambda: (
            tf.data.TFRecordDataset(files_list(paths), compression_type=compression,
                                    num_parallel_reads=8).batch(BATCH)
        ),
        "reference: read order 1 (manifest without index): counted 128-record chunks, rebatch":
            lambda: inputs._serialized_records(
                manifest, paths, "train", deterministic=True,
                num_parallel_reads=tf.data.AUTOTUNE, as_chunks=True,
            ).rebatch(BATCH),
        "order 2: tf.io.read_file, 8 shards at once (one element per shard)": whole(False, False),
        "+ sha256 of the stored bytes (tf.numpy_function + hashlib)": whole(True, False),
        "+ decompress whole (tf.io.decode_compressed; none: nothing)": whole(True, True),
        "+ index checked against the framing, cut into records (one tf.strings.substr)":
            lambda: files.map(cut, num_parallel_calls=at_once, deterministic=True),
        "+ parse_example + decode per shard": parsed,
        "+ rebatch to the batch size (one element per batch)": lambda: parsed().rebatch(BATCH),
        "full input_fn (+ prefetch)": inputs.input_fn(
            "train", BATCH, str(record_dir), n_epochs=1, shuffle=False
        ),
        "ceiling: sha256 alone (hashlib over a stored shard in memory)": lambda: alone(
            stored, lambda c: tf.numpy_function(_sha256_hex, [c], tf.string, stateful=False)),
        "ceiling: decompress alone (tf.io.decode_compressed of a stored shard in memory; "
        "none: nothing)": lambda: alone(stored, lambda c: tf.strings.length(
            tf.io.decode_compressed(c, compression_type=compression) if compression else c)),
        "alternative, alone: zlib-ng's inflate in a tf.numpy_function (a stored shard in "
        "memory; none: nothing)": lambda: alone(stored, lambda c: tf.strings.length(
            tf.numpy_function(_zlib_ng_inflate(compression), [c], tf.string, stateful=False)
            if compression else c)),
        "ceiling: cut alone (one tf.strings.substr over a decompressed shard in memory)":
            lambda: alone(content, lambda c: tf.strings.substr(c, starts, shard_lengths)),
        "ceiling: parse_example + decode alone (a shard's records in memory)": lambda: alone(
            records, lambda r: to_model_inputs(parse_records(r))),
        "ceiling: rebatch alone (a parsed shard in memory -> batches)": lambda: (
            tf.data.Dataset.from_tensors(parsed_shard).repeat(n_shards).rebatch(BATCH)),
        "alternative, alone: parse_example + decode per batch (a batch of records in memory, "
        "once per batch of the split)": lambda: alone(
            one_batch, lambda r: to_model_inputs(parse_records(r)), n_batches),
    }  # fmt: skip


def files_list(paths: list[Path]) -> list[str]:
    """The shard paths as strings."""
    return [str(p) for p in paths]


def run(x: np.ndarray, y: np.ndarray, repeats: int) -> dict[str, dict[str, float]]:
    """Returns examples/s of every stage, uncompressed and GZIP: best and median of `repeats`.

    Also the CPU seconds of the process for the stage (``<compression>_cpu_s``, best repeat):
    on a machine shared with other jobs they vary less than wall time.

    The stages alternate within each repeat (stage 1, 2, ..., then again), like the sides of a
    comparison, so a stall on the shared machine does not hit one stage's repeats only.
    """
    out: dict[str, dict[str, float]] = {}
    for compression in (None, "GZIP"):
        name = compression or "none"
        root = Path(tempfile.mkdtemp(prefix="reproml-bench-stages-"))
        try:
            ours_write(x, y, root, compression)
            built = stages(root, x, y)
            times: dict[str, list[float]] = {stage: [] for stage in built}
            cpu: dict[str, list[float]] = {stage: [] for stage in built}
            for repeat in range(repeats + 1):  # the first pass warms up (tracing), not counted
                for stage, build in built.items():
                    start, start_cpu = time.perf_counter(), time.process_time()
                    for _element in build():
                        pass
                    if repeat:
                        times[stage].append(time.perf_counter() - start)
                        cpu[stage].append(time.process_time() - start_cpu)
            for stage, seconds in times.items():
                out.setdefault(stage, {})[name] = len(x) / min(seconds)
                out[stage][f"{name}_median"] = len(x) / statistics.median(seconds)
                out[stage][f"{name}_cpu_s"] = min(cpu[stage])
        finally:
            shutil.rmtree(root, ignore_errors=True)
    return out
