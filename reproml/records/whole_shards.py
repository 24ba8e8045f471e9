"""Read order 2: shards read whole and cut into batches, for manifests with a record index.

A manifest written with a record index (``record_lengths`` per shard,
`reproml.records.record_index`) is read here; one without it by the record-by-record reader
(`reproml.records.reader`, read order 1). Per shard, with TensorFlow ops only::

    tf.io.read_file -> sha256 of the stored bytes == the manifest's -> decompress whole
      -> index checked against the framing -> one tf.strings.substr: the shard's records

and then (`batches`), so that tf.data handles one element per shard or per batch, never
one per record::

    unshuffled: shards in manifest order -> parse_example + decode the whole shard
                  (`num_parallel_reads` shards at once) -> rebatch to the batch size
    shuffled:   shard order shuffled (seeded) -> pools of consecutive shards holding at least
                  `shuffle_buffer` records -> each pool's records permuted with a stateless
                  seeded permutation -> parse_example + decode the pool -> rebatch

Encoded images (and ragged features) are not parsed per shard: the serialized records are
rebatched, parsed per batch, and the images decoded one example at a time in a parallel,
ordered map (`reproml.records.batch_decode`), the same batches bit for bit.

The order this gives (`READ_ORDER`, recorded by runs; docs/inputs.md) is not read order 1's:
unshuffled, the examples come exactly as written (shard after shard); shuffled, a uniform
permutation of each pool. For a given seed and the same shards it is the same on every run
and machine.

Every check names the shard: a missing file (``NotFoundError`` from ``read_file``), a
content that is not the manifest's sha256 (checked before any of the shard's records is cut,
so a flipped byte never reaches the model), an index that does not match the framing.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from reproml.errors import RecordError
from reproml.lazy import lazy_import
from reproml.records import record_index
from reproml.records.as_written import as_written
from reproml.records.batch_decode import (
    batch_parser,
    decode_batches,
    decode_examples,
    per_example_keys,
)
from reproml.records.manifest import MANIFEST_NAME, Manifest
from reproml.records.spec import FeatureSpec

tf = lazy_import("tensorflow")
shard_check = lazy_import("reproml.records.verify")  # FIX

# The order version of this reader (1: the record-by-record reader of manifests without an
# index). A run records it, so `reproduce` compares runs that read in the same order.
READ_ORDER = 2


def read_order(manifest: Manifest, splits: Sequence[str] | None = None) -> int:
    """Return the read order `input_fn` uses for `splits` (None: all): 2 indexed, else 1.

    Order 2 (`READ_ORDER`, this module) when every shard of the splits has a record index;
    order 1 (the record-by-record reader) for manifests written before the index existed.
    """
    chosen = manifest.splits if splits is None else splits
    shards = [shard for split in chosen for shard in manifest.splits[split].shards]
    return READ_ORDER if all(s.record_lengths is not None for s in shards) else 1


@dataclasses.dataclass(frozen=True)
class ShardTable:
    """The picked shards of a split, as the columns the per-shard reader takes."""

    paths: list[str]
    sha256: list[str]
    where: list[str]  # "shard 3 of split 'train' in <manifest>", for error messages
    first: np.ndarray  # int64: each shard's first record in `lengths`
    end: np.ndarray  # int64: one past each shard's last record in `lengths`
    lengths: np.ndarray  # int64: every picked shard's record lengths, concatenated

    @property
    def max_records(self) -> int:
        """The record count of the largest picked shard."""
        return int(np.max(self.end - self.first, initial=0))


def shard_table(
    manifest: Manifest, paths: Sequence[Path], split: str, picked: Sequence[int]
) -> ShardTable | None:
    """Return the picked shards' table, or None when a picked shard has no record index.

    Args:
      manifest: the loaded manifest.
      paths: every shard path of `split` (as `verify_shards` returned them).
      split: the split read.
      picked: positions of the shards to read (e.g. one trainer's).

    Raises:
      RecordError: an index that cannot be decoded or lists another number of records,
        naming the manifest, the split and the shard.
    """
    shards = manifest.splits[split].shards
    if any(shards[i].record_lengths is None for i in picked):
        return None
    manifest_path = Path(manifest.record_dir or ".") / MANIFEST_NAME
    lengths = []
    for i in picked:
        try:
            lengths.append(record_index.decode_lengths(shards[i].record_lengths, shards[i].records))
        except record_index.RecordIndexError as err:
            raise RecordError(
                manifest_path,
                f"has a bad record index for shard {i} of split {split!r} "
                f"({shards[i].file}): {err}",
                shard_check.FIX,
            ) from err
    counts = np.asarray([shards[i].records for i in picked], np.int64)
    end = np.cumsum(counts, dtype=np.int64)
    return ShardTable(
        paths=[str(paths[i]) for i in picked],
        sha256=[shards[i].sha256 for i in picked],
        where=[f"shard {i} of split {split!r} in {manifest_path}" for i in picked],
        first=end - counts,
        end=end,
        lengths=np.concatenate(lengths) if lengths else np.zeros(0, np.int64),
    )


def _sha256_hex(data: bytes | np.ndarray) -> bytes:
    """The hex sha256 of a whole shard's bytes (hashlib releases the GIL while hashing).

    `tf.numpy_function` passes the scalar string tensor as `bytes` inside a graph (tf.data)
    but as a 0-d object array holding them when run eagerly: hashing that array would hash
    the object pointer, so it is unwrapped.
    """
    raw = data.item() if isinstance(data, np.ndarray) else data
    return hashlib.sha256(raw).hexdigest().encode("ascii")


def shard_content(
    path: tf.Tensor,
    expected_sha256: tf.Tensor,
    where: tf.Tensor,
    lengths: tf.Tensor,
    compression: str,
    check_sha256: bool = True,
) -> tuple[tf.Tensor, tf.Tensor]:
    """Return one shard's decompressed bytes and where each record starts, all checked.

    The bytes as stored are hashed once (TensorFlow has no sha256 op: `tf.numpy_function` with
    hashlib) and compared with the manifest's before anything is decompressed or cut; then
    the record index (`lengths`) is checked against the framing: the stream's size and every
    record's 8-byte length header. `check_sha256` False is only for the benchmark's row that
    prices the check. Every failure names the shard.

    Returns:
      (the shard's decompressed bytes, a scalar string; int64 byte offsets of every record's
      data in it), so that record ``i`` is ``substr(content, starts[i], lengths[i])``.
    """
    content = tf.io.read_file(path)  # a missing file: NotFoundError naming it
    if check_sha256:
        actual = tf.numpy_function(_sha256_hex, [content], tf.string, stateful=False)
        message = tf.strings.join(
            [
                path,
                ": has sha256 ",
                actual,
                " but the manifest lists ",
                expected_sha256,
                " (",
                where,
                "); its content changed. " + shard_check.FIX,
            ]
        )
        ok = tf.debugging.Assert(tf.equal(actual, expected_sha256), [message], summarize=1)
        with tf.control_dependencies([ok]):
            content = tf.identity(content)
    if compression:
        content = tf.io.decode_compressed(content, compression_type=compression)
    framed = lengths + record_index.FRAME_OVERHEAD
    offsets = tf.cumsum(framed, exclusive=True)
    size = tf.cast(tf.strings.length(content), tf.int64)
    # The length headers are read at offsets clamped into the stream, so that a wrong index
    # fails this check (naming the shard), not substr with a nameless out-of-range error.
    at = tf.clip_by_value(offsets, 0, tf.maximum(size - 8, 0))
    eight = tf.fill(tf.shape(at), tf.constant(8, tf.int64))
    headers = tf.io.decode_raw(
        tf.strings.substr(content, at, eight), tf.int64, little_endian=True, fixed_length=8
    )
    matches = tf.logical_and(
        tf.equal(size, tf.reduce_sum(framed)),
        tf.reduce_all(tf.equal(tf.reshape(headers, [-1]), lengths)),
    )
    message = tf.strings.join(
        [
            path,
            ": its framing does not match the record index in the manifest (",
            where,
            "); the manifest was edited or belongs to other shards. " + shard_check.FIX,
        ]
    )
    with tf.control_dependencies([tf.debugging.Assert(matches, [message], summarize=1)]):
        return tf.identity(content), offsets + record_index.HEADER_BYTES


def _is_dense(spec: object) -> bool:
    return all(isinstance(s, tf.TensorSpec) for s in tf.nest.flatten(spec))


def batches(
    table: ShardTable,
    compression: str | None,
    specs: Mapping[str, FeatureSpec],
    *,
    batch_size: int | None,
    shards_at_once: int,
    then: Callable[[dict[str, tf.Tensor]], Any] | None = None,
    shuffle: bool = False,
    shuffle_buffer: int = 10_000,
    random_seed: int | None = None,
    n_epochs: int | None = 1,
    drop_remainder: bool = False,
    deterministic: bool = True,
    check_sha256: bool = True,
) -> tf.data.Dataset:
    """Return the decoded batches (or, `batch_size` None, examples) of the table's shards.

    Args:
      table: the shards (`shard_table`).
      compression: the manifest's compression.
      specs: the manifest's specs of the features to return.
      batch_size: examples per element; None for single examples.
      shards_at_once: shards read in parallel (each held whole in memory).
      then: a function of a decoded batch run last (e.g. picking features and labels).
      shuffle: shuffle the shard order and permute each pool of shards' records.
      shuffle_buffer: records per pool (whole shards are pooled until a pool holds this many).
      random_seed: the seed of the shard shuffle and the permutations (None: the graph seed).
      n_epochs: passes over the shards; None repeats forever.
      drop_remainder: drop the last batch if it is smaller than `batch_size`.
      deterministic: keep the same order (unshuffled reading only; shuffled is always).
      check_sha256: check each shard's sha256 while reading (False only for benchmarks).

    Returns:
      The dataset of decoded elements (what `then` returns of them, if given).
    """
    all_lengths = tf.constant(table.lengths, tf.int64)
    files = tf.data.Dataset.from_tensor_slices(
        (table.paths, table.sha256, table.where, table.first, table.end)
    )

    @as_written
    def read(path, sha256, where, first, end) -> tf.Tensor:  # noqa: ANN001 (tensors)
        """One shard's serialized records (1-D string), its content and index checked."""
        lengths = all_lengths[first:end]
        content, starts = shard_content(
            path, sha256, where, lengths, compression or "", check_sha256
        )
        return tf.strings.substr(content, starts, lengths)

    if shuffle:
        pool_shards = max(1, math.ceil(shuffle_buffer / max(table.max_records, 1)))
        files = files.shuffle(len(table.paths), seed=random_seed, reshuffle_each_iteration=True)
        records = files.map(read, num_parallel_calls=shards_at_once, deterministic=True)
        pools = records.ragged_batch(pool_shards).map(as_written(lambda r: r.flat_values))
        pools = pools.repeat(n_epochs)
        seeds = tf.data.Dataset.random(seed=random_seed).batch(2)

        def permuted(pool: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
            order = tf.random.experimental.stateless_shuffle(tf.range(tf.size(pool)), seed)
            return tf.gather(pool, order)

        records = tf.data.Dataset.zip((pools, seeds)).map(as_written(permuted))
        parallel, order_kept = 2, True
    else:
        records = files.repeat(n_epochs).map(
            read, num_parallel_calls=shards_at_once, deterministic=deterministic
        )
        parallel, order_kept = shards_at_once, deterministic
    if batch_size is None:
        return decode_examples(records, specs, order_kept)
    if not per_example_keys(specs):
        parse = batch_parser(specs, skip=[])
        whole = records.map(
            parse if then is None else as_written(lambda serialized: then(parse(serialized))),
            num_parallel_calls=parallel,
            deterministic=order_kept,
        )
        if _is_dense(whole.element_spec):  # whole shards (pools) parsed, rows cut into batches
            return whole.rebatch(batch_size, drop_remainder=drop_remainder)
    # Ragged features or encoded images: the serialized records rebatched, then parsed per
    # batch (images decoded per example in a parallel map, `batch_decode`).
    return decode_batches(
        records.rebatch(batch_size, drop_remainder=drop_remainder),
        specs,
        batch_size,
        drop_remainder=drop_remainder,
        deterministic=order_kept,
        then=then,
    )
