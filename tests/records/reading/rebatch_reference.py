"""Read order 2 as it was first built (whole shards parsed, then `rebatch`), the reference.

`reproml.records.whole_shards.batches` has changed since (it takes the specs, and decodes
encoded images one example at a time); this is the first code, kept only so that tests can
show the reader yields the same examples in the same batches for the same seed, i.e. that
read order 2 did not change. A change of order needs a new read order number instead.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import tensorflow as tf

from reproml.records.whole_shards import ShardTable, shard_content


def _is_dense(spec: object) -> bool:
    return all(isinstance(s, tf.TensorSpec) for s in tf.nest.flatten(spec))


def rebatched(
    table: ShardTable,
    compression: str | None,
    parse: Callable[[tf.Tensor], Any],
    *,
    batch_size: int | None,
    shards_at_once: int,
    shuffle: bool = False,
    shuffle_buffer: int = 10_000,
    random_seed: int | None = None,
    n_epochs: int | None = 1,
    drop_remainder: bool = False,
) -> tf.data.Dataset:
    """The parsed batches of the table's shards, as read order 2 first gave them."""
    all_lengths = tf.constant(table.lengths, tf.int64)
    files = tf.data.Dataset.from_tensor_slices(
        (table.paths, table.sha256, table.where, table.first, table.end)
    )

    def read(path, sha256, where, first, end):  # noqa: ANN001, ANN202
        lengths = all_lengths[first:end]
        content, starts = shard_content(path, sha256, where, lengths, compression or "")
        return tf.strings.substr(content, starts, lengths)

    if shuffle:
        pool_shards = max(1, math.ceil(shuffle_buffer / max(table.max_records, 1)))
        files = files.shuffle(len(table.paths), seed=random_seed, reshuffle_each_iteration=True)
        records = files.map(read, num_parallel_calls=shards_at_once, deterministic=True)
        pools = records.ragged_batch(pool_shards).map(lambda r: r.flat_values).repeat(n_epochs)
        seeds = tf.data.Dataset.random(seed=random_seed).batch(2)

        def permuted(pool: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
            order = tf.random.experimental.stateless_shuffle(tf.range(tf.size(pool)), seed)
            return tf.gather(pool, order)

        records = tf.data.Dataset.zip((pools, seeds)).map(permuted)
    else:
        records = files.repeat(n_epochs).map(read, num_parallel_calls=shards_at_once)
    parsed = records.map(parse)
    if batch_size is None:
        return parsed.unbatch()
    if _is_dense(parsed.element_spec):
        return parsed.rebatch(batch_size, drop_remainder=drop_remainder)
    grouped = records.rebatch(batch_size, drop_remainder=drop_remainder)
    return grouped.map(parse)
