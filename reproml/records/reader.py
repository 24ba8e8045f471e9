"""Input pipelines over a record directory written by `write_records`.

The parse spec always comes from ``manifest.json`` (never written by hand), and the pipeline
follows the order that keeps the per-example work small::

    shards -> interleave (fixed cycle length, each shard counted, in chunks of 128 records)
      shuffled (train):   -> unbatch -> shuffle serialized records -> repeat -> batch
      unshuffled (eval):  -> repeat -> rebatch (regroups whole chunks: no per-record work)
      -> parse_example + FeatureSpec.decode (one AUTOTUNE map; encoded images decoded per
         example in a parallel ordered map, `reproml.records.batch_decode`) -> prefetch

Damaged data is caught in two places:

* before reading, `verify_shards` (`reproml.records.verify`: "size", the default, "sha256", or
  None) checks every shard the manifest lists with the same per-shard check as `verify`, and
  raises a `RecordError` naming the first file that differs;
* while reading, every shard's reader counts its records and fails with an error naming the
  shard when the count is not the manifest's. TensorFlow itself reads a truncated shard as a
  shorter one without any error, and reports a corrupted one as ``DataLossError: corrupted
  record at 390`` without naming the file; here both end as ``InvalidArgumentError: ...
  <path>: read 7 of 20 records the manifest lists ...`` (the reader's own error is dropped in
  favour of this one, which says which file and how to fix it).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path

from reproml.checks import int_at_least
from reproml.cluster.distribution import input_pipeline, shard_files
from reproml.cluster.tf_config import cluster_task
from reproml.errors import ConfigError
from reproml.lazy import lazy_import
from reproml.records import whole_shards
from reproml.records.as_written import as_written
from reproml.records.batch_decode import decode_batches
from reproml.records.manifest import Manifest, load_manifest
from reproml.records.spec import FeatureSpec, decode_example, parse_spec
from reproml.records.verify import FIX as SHARD_FIX
from reproml.records.verify import verify_shards

tf = lazy_import("tensorflow")


# Shards read at once when `num_parallel_reads` is AUTOTUNE. A fixed number (not the machine's
# core count, which is what AUTOTUNE would use) keeps the interleaved order the same everywhere.
DEFAULT_CYCLE_LENGTH = 8
# Records per chunk when a shard's reader counts its records (see `_counted_shard`).
_COUNT_CHUNK = 128
_log = logging.getLogger("reproml.records")


def _counted_shard(
    path: tf.Tensor, expected: tf.Tensor, compression: str, check_exists: bool
) -> tf.data.Dataset:
    """Read one shard's serialized records, failing with the path if the count is not `expected`.

    A reader error in the middle of a shard (DataLossError on a corrupted record) ends the shard
    early (`ignore_errors`), so the count check reports it with the file's name instead of
    TensorFlow's nameless error. `ignore_errors` would retry a file that cannot be *opened*
    forever (TFRecordDataset does not move on), so a shard deleted after `verify_shards` ran is
    caught first, by `tf.io.matching_files` (skipped with `check_exists=False`, for paths with
    glob characters). The records are counted in chunks of `_COUNT_CHUNK` (an empty chunk
    marks the end), which costs next to nothing; a per-record check made reading about 15x
    slower. The elements are those chunks: 1-D string tensors, the last one empty.
    """
    if check_exists:
        found = tf.size(tf.io.matching_files(path)) > 0
        message = tf.strings.join(
            [path, ": is missing (it was there when reading started). " + SHARD_FIX]
        )
        with tf.control_dependencies([tf.debugging.Assert(found, [message], summarize=1)]):
            path = tf.identity(path)
    records = tf.data.TFRecordDataset(path, compression_type=compression).ignore_errors()
    chunks = records.batch(_COUNT_CHUNK).concatenate(
        tf.data.Dataset.from_tensors(tf.constant([], tf.string))
    )

    def count(seen: tf.Tensor, chunk: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        size = tf.size(chunk, out_type=tf.int64)

        def check_total() -> tf.Tensor:
            message = tf.strings.join(
                [
                    path,
                    ": read ",
                    tf.strings.as_string(seen),
                    " of ",
                    tf.strings.as_string(expected),
                    " records the manifest lists (the shard is truncated, corrupted or missing, or"
                    " the manifest is stale; run `reproml verify` or read with verify=sha256 to"
                    " find it). " + SHARD_FIX,
                ]
            )
            ok = tf.debugging.Assert(tf.equal(seen, expected), [message], summarize=1)
            with tf.control_dependencies([ok]):
                return tf.identity(seen)

        seen = tf.cond(tf.equal(size, 0), check_total, lambda: seen + size)
        return seen, chunk

    return chunks.scan(tf.constant(0, tf.int64), count)


def _serialized_records(
    manifest: Manifest,
    paths: Sequence[Path],
    split: str,
    *,
    deterministic: bool,
    num_parallel_reads: int | None,
    shuffle_files_seed: int | None = None,
    shuffle_files: bool = False,
    as_chunks: bool = False,
    shard_indices: Sequence[int] | None = None,
) -> tf.data.Dataset:
    """Interleave the shards' serialized records (each shard's reader is counted).

    `shard_indices` picks shards of the split (positions in the manifest, e.g. one trainer's
    `shard_files`); `paths` is then the whole split's, and each picked path keeps its count.
    Shards are interleaved in chunks of `_COUNT_CHUNK` records. With `as_chunks` the elements
    are those chunks (1-D string tensors), for callers that regroup them into batches with
    `rebatch`: no per-record tf.data work at all, which is what makes batched reading fast
    (docs/performance.md). Otherwise the elements are single records, in the same order.
    """
    counts = [shard.records for shard in manifest.splits[split].shards]
    if shard_indices is not None:
        paths = [paths[i] for i in shard_indices]
        counts = [counts[i] for i in shard_indices]
    files = tf.data.Dataset.from_tensor_slices(
        ([str(p) for p in paths], tf.constant(counts, tf.int64))
    )
    if shuffle_files:
        files = files.shuffle(len(paths), seed=shuffle_files_seed, reshuffle_each_iteration=True)
    cycle_length = _cycle_length(num_parallel_reads, len(paths))
    compression = manifest.compression or ""
    check_exists = not any(char in str(p) for p in paths for char in "*?[]\\")
    chunks = files.interleave(
        as_written(
            lambda path, expected: _counted_shard(path, expected, compression, check_exists)
        ),
        cycle_length=cycle_length,
        block_length=1,
        num_parallel_calls=tf.data.AUTOTUNE,
        deterministic=deterministic,
    )
    if as_chunks:
        return chunks.filter(as_written(lambda chunk: tf.size(chunk) > 0))  # drop end markers
    return chunks.unbatch()  # the empty end markers vanish here


def _cycle_length(num_parallel_reads: int | None, n_shards: int) -> int:
    """Return the number of shards read at once (see `dataset_from_records`)."""
    if num_parallel_reads is None or num_parallel_reads == tf.data.AUTOTUNE:
        return max(1, min(n_shards, DEFAULT_CYCLE_LENGTH))
    if isinstance(num_parallel_reads, int) and num_parallel_reads >= 1:
        return max(1, min(n_shards, num_parallel_reads))
    raise ConfigError(
        "num_parallel_reads", "None, a positive int or tf.data.AUTOTUNE", num_parallel_reads
    )


def _checked_specs(manifest: Manifest, keys: Sequence[str], entry: str) -> dict[str, FeatureSpec]:
    unknown = [k for k in keys if k not in manifest.schema]
    if unknown:
        raise ConfigError(entry, f"keys of the dataset schema {sorted(manifest.schema)}", unknown)
    return manifest.specs(list(keys))


def _parser(specs: dict[str, FeatureSpec], batched: bool) -> Callable[[tf.Tensor], dict]:
    """Parse serialized records (a batch, or one) with the manifest's spec and decode them."""
    features = parse_spec(specs)
    parse = tf.io.parse_example if batched else tf.io.parse_single_example
    return lambda serialized: decode_example(specs, parse(serialized, features))


def _manifest_and_dir(record_dir: str | os.PathLike | Manifest) -> tuple[Manifest, Path]:
    """Load the manifest of a record directory, or take a Manifest that knows its directory."""
    if isinstance(record_dir, Manifest):
        if record_dir.record_dir is None:
            raise ConfigError(
                "record_dir",
                "a record directory, or a Manifest returned by load_manifest or write_records "
                "(it knows its directory)",
                "a Manifest that was never loaded or saved",
            )
        return record_dir, Path(record_dir.record_dir)
    return load_manifest(record_dir), Path(record_dir)


def dataset_from_records(
    split: str,
    record_dir: str | os.PathLike | Manifest,
    *,
    keys: Sequence[str] | None = None,
    batch_size: int | None = None,
    deterministic: bool = True,
    verify: str | None = "size",
    num_parallel_reads: int | None = None,
) -> tf.data.Dataset:
    """Return a dataset of dicts of decoded tensors read from `split`'s shards.

    Args:
      split: the split to read ("train", "eval", "test", ...).
      record_dir: a directory written by `write_records` (holding ``manifest.json``), or the
        `Manifest` that `write_records` or `load_manifest` returned for it.
      keys: the features to decode (default: every key of the schema).
      batch_size: None for one example per element; else batches of `batch_size` (the last
        one may be smaller), parsed with one `tf.io.parse_example` per batch.
      deterministic: keep the same element order on every run and machine.
      verify: check the shards before reading: "size" (default), "sha256" or None
        (see `verify_shards`).
      num_parallel_reads: shards read at once (None or AUTOTUNE: up to `DEFAULT_CYCLE_LENGTH`).

    Returns:
      Elements ``{key: tensor}`` of the manifest's dtype and shape (with a leading batch
      dimension when `batch_size` is given).

    Raises:
      RecordError: the manifest is missing, has no such split, or a shard does not match it.
      ConfigError: an unknown key, an invalid `batch_size`, `verify` or `num_parallel_reads`,
        or a `Manifest` that does not know its directory.
    """
    manifest, record_dir = _manifest_and_dir(record_dir)
    specs = _checked_specs(manifest, list(manifest.schema) if keys is None else keys, "keys")
    if batch_size is not None:
        int_at_least("batch_size", batch_size)
    paths = verify_shards(manifest, record_dir, split, verify)
    table = whole_shards.shard_table(manifest, paths, split, range(len(paths)))
    if table is not None:  # read order 2: whole shards, cut into batches, parsed per batch
        return whole_shards.batches(
            table,
            manifest.compression,
            specs,
            batch_size=batch_size,
            shards_at_once=_cycle_length(num_parallel_reads, len(paths)),
            deterministic=deterministic,
        )
    dataset = _serialized_records(
        manifest,
        paths,
        split,
        deterministic=deterministic,
        num_parallel_reads=num_parallel_reads,
        as_chunks=batch_size is not None,
    )
    if batch_size is not None:
        return decode_batches(
            dataset.rebatch(batch_size), specs, batch_size, deterministic=deterministic
        )
    return dataset.map(
        as_written(_parser(specs, batched=batch_size is not None)),
        num_parallel_calls=tf.data.AUTOTUNE,
        deterministic=deterministic,
    )


def shuffle_repeat_prefetch(
    dataset: tf.data.Dataset,
    buffer_size: int,
    n_epochs: int | None = None,
    random_seed: int | None = None,
) -> tf.data.Dataset:
    """Shuffle, repeat and prefetch a dataset.

    With a `random_seed` (or a graph seed, e.g. ``RunConfig(tf_random_seed=...)``) and a
    deterministic input, every run sees the same order; each epoch is shuffled differently.

    Args:
      dataset: the dataset to shuffle.
      buffer_size: elements in the shuffle buffer (>= the dataset size for a uniform shuffle).
      n_epochs: passes over the data; None repeats forever.
      random_seed: the shuffle seed.

    Returns:
      The shuffled, repeated and prefetched dataset.

    Raises:
      ConfigError: `buffer_size` or `n_epochs` is not a positive int.
    """
    int_at_least("buffer_size", buffer_size)
    if n_epochs is not None:
        int_at_least("n_epochs", n_epochs)
    dataset = dataset.shuffle(buffer_size, seed=random_seed, reshuffle_each_iteration=True)
    return dataset.repeat(n_epochs).prefetch(tf.data.AUTOTUNE)


def input_fn(
    split: str,
    batch_size: int,
    record_dir: str | os.PathLike | Manifest,
    *,
    n_epochs: int | None = None,
    shuffle: bool | None = None,
    shuffle_buffer: int = 10_000,
    random_seed: int | None = None,
    feature_keys: Sequence[str] = ("image",),
    label_key: str | None = "label",
    drop_remainder: bool = False,
    verify: str | None = "size",
) -> Callable[[], tf.data.Dataset]:
    """Return the input function `Estimator.train/evaluate/predict` take (or call it with no arguments).

    On a ``TF_CONFIG`` cluster, every trainer reads only its own shard files while training:
    the Estimator passes ``mode`` and, under a strategy, an ``input_context`` to the returned
    function, and `train_shards` picks ``shards[index::num_trainers]`` from them (or from
    ``TF_CONFIG`` without a strategy). Called without ``mode=TRAIN`` (evaluate, predict, by
    hand) or on one machine, it reads the whole split.

    The manifest is read and the shards verified now, so a damaged dataset fails before
    training starts; the dataset itself is built when the Estimator calls the function
    (graph mode), or when it is called eagerly.

    Args:
      split: the split to read.
      batch_size: examples per batch.
      record_dir: a directory written by `write_records`, or the `Manifest` that
        `write_records` or `load_manifest` returned for it.
      n_epochs: passes over the data; None repeats forever (pass 1 to `evaluate`/`predict`
        a whole split without `steps`).
      shuffle: shuffle shard order and records; default True for "train" only.
      shuffle_buffer: serialized records in the shuffle buffer.
      random_seed: the shuffle seed (None: the graph seed, e.g. ``RunConfig.tf_random_seed``).
      feature_keys: the features to return in the features dict.
      label_key: the label feature, returned as int64 [B], or as float32 multi-hot
        [B, num_classes] when it is a label set (``MultiLabelHandler``); None yields
        features only (predict).
      drop_remainder: drop the last batch if it is smaller than `batch_size`.
      verify: "size", "sha256" or None (see `verify_shards`).

    Returns:
      A callable returning a dataset of ``(features, labels)``, or of ``features`` when
      `label_key` is None, with features ``{key: tensor [B, ...]}``.

    Raises:
      RecordError: the manifest is missing, has no such split, or a shard does not match it.
      ConfigError: an unknown key, an invalid numeric argument, or a `Manifest` that does not
        know its directory.
    """
    manifest, record_dir = _manifest_and_dir(record_dir)
    specs = _checked_specs(manifest, feature_keys, "feature_keys")
    if label_key is not None:
        specs.update(_checked_specs(manifest, [label_key], "label_key"))
    int_at_least("batch_size", batch_size)
    int_at_least("shuffle_buffer", shuffle_buffer)
    if n_epochs is not None:
        int_at_least("n_epochs", n_epochs)
    paths = verify_shards(manifest, record_dir, split, verify)
    whole_shards.shard_table(manifest, paths, split, range(len(paths)))  # a bad index fails now
    shuffle = split == "train" if shuffle is None else shuffle
    feature_keys = tuple(feature_keys)

    def to_model_inputs(
        decoded: dict[str, tf.Tensor],
    ) -> dict[str, tf.Tensor] | tuple[dict[str, tf.Tensor], tf.Tensor]:
        features = {key: decoded[key] for key in feature_keys}
        if label_key is None:
            return features
        if specs[label_key].decode_as == "multi_hot":  # a label set: float32 multi-hot
            return features, decoded[label_key]
        return features, tf.cast(decoded[label_key], tf.int64)

    def make_dataset(mode: str | None = None, input_context: object = None) -> tf.data.Dataset:
        shards = train_shards(manifest, split, mode, input_context)
        picked = range(len(paths)) if shards is None else shards
        table = whole_shards.shard_table(manifest, paths, split, picked)
        if table is not None:  # read order 2: whole shards, cut into batches, parsed per batch
            return whole_shards.batches(
                table,
                manifest.compression,
                specs,
                then=to_model_inputs,
                batch_size=batch_size,
                shards_at_once=_cycle_length(None, len(picked)),
                shuffle=shuffle,
                shuffle_buffer=shuffle_buffer,
                random_seed=random_seed,
                n_epochs=n_epochs,
                drop_remainder=drop_remainder,
            ).prefetch(tf.data.AUTOTUNE)
        records = _serialized_records(
            manifest,
            paths,
            split,
            deterministic=True,
            num_parallel_reads=None,
            shuffle_files=shuffle,
            shuffle_files_seed=random_seed,
            as_chunks=not shuffle,
            shard_indices=shards,
        )
        if shuffle:  # shuffle single serialized records (cheap strings), then batch them
            records = shuffle_repeat_prefetch(records, shuffle_buffer, n_epochs, random_seed)
            batches = records.batch(batch_size, drop_remainder=drop_remainder)
        else:  # chunks of a shard's records, regrouped into batches without per-record work
            batches = records.repeat(n_epochs).rebatch(batch_size, drop_remainder=drop_remainder)
        batches = decode_batches(
            batches, specs, batch_size, drop_remainder=drop_remainder, then=to_model_inputs
        )
        return batches.prefetch(tf.data.AUTOTUNE)

    return make_dataset


def train_shards(
    manifest: Manifest, split: str, mode: str | None, input_context: object = None
) -> list[int] | None:
    """Return the positions of the shards of `split` this task trains on (None: all of them).

    On one machine, or outside training (`mode` is not ``TRAIN`` and there is no
    `input_context`), every shard. On a ``TF_CONFIG`` cluster, whole shard files per trainer
    (`reproml.cluster.distribution.shard_files`): by the strategy's `input_context` when the
    Estimator passes one, else by the trainer's index in ``TF_CONFIG`` (parameter-server
    training without a strategy). The choice is logged, so each task's log says what it read.

    Raises:
      ConfigError: fewer shard files than trainers (write smaller shards).
    """
    if input_context is None and (mode != tf.estimator.ModeKeys.TRAIN or cluster_task() is None):
        return None
    positions = list(range(len(manifest.splits[split].shards)))
    mine = shard_files(positions, input_context)
    num, index = input_pipeline(input_context)
    if num > 1:
        files = [manifest.splits[split].shards[i].file for i in mine]
        _log.info(
            "input pipeline %d of %d reads %d of %d %r shards: %s",
            index,
            num,
            len(mine),
            len(positions),
            split,
            ", ".join(files),
        )
    return mine
