"""Input pipelines over a record directory written by `write_records`.

The parse spec always comes from ``manifest.json`` (never written by hand), and the pipeline
follows the order that keeps the per-example work small::

    shards -> interleave (fixed cycle length, each shard counted, in chunks of 128 records)
      shuffled (train):   -> unbatch -> shuffle serialized records -> repeat -> batch
      unshuffled (eval):  -> repeat -> rebatch (regroups whole chunks: no per-record work)
      -> parse_example + FeatureSpec.decode (one AUTOTUNE map) -> prefetch

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

import hashlib
import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from reproml.cluster.distribution import input_pipeline, shard_files
from reproml.cluster.tf_config import cluster_task
from reproml.errors import ConfigError, RecordError
from reproml.lazy import lazy_import
from reproml.records import record_index
from reproml.records.manifest import MANIFEST_NAME, Manifest, load_manifest
from reproml.records.spec import FeatureSpec, decode_example, parse_spec

tf = lazy_import("tensorflow")
shard_check = lazy_import("reproml.records.verify")  # verify_shards, FIX

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
            [path, ": is missing (it was there when reading started). " + shard_check.FIX]
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
                    " find it). " + shard_check.FIX,
                ]
            )
            ok = tf.debugging.Assert(tf.equal(seen, expected), [message], summarize=1)
            with tf.control_dependencies([ok]):
                return tf.identity(seen)

        seen = tf.cond(tf.equal(size, 0), check_total, lambda: seen + size)
        return seen, chunk

    return chunks.scan(tf.constant(0, tf.int64), count)


def _sha256_hex(data: bytes | np.ndarray) -> bytes:
    """The hex sha256 of a whole shard's bytes (hashlib releases the GIL while hashing).

    `tf.numpy_function` passes the scalar string tensor as `bytes` inside a graph (tf.data)
    but as a 0-d object array holding them when run eagerly: hashing that array would hash
    the object pointer, so it is unwrapped.
    """
    raw = data.item() if isinstance(data, np.ndarray) else data
    return hashlib.sha256(raw).hexdigest().encode("ascii")


def _indexed_shard(
    path: tf.Tensor,
    expected_sha256: tf.Tensor,
    where: tf.Tensor,
    lengths: tf.Tensor,
    compression: str,
    check_sha256: bool,
    parse: Callable[[tf.Tensor], Any] | None = None,
) -> tf.data.Dataset:
    """Read one whole shard, check its sha256 and framing, and cut it into chunks of records.

    The elements are those of `_counted_shard` for the same shard (chunks of `_COUNT_CHUNK`
    serialized records, then one empty chunk), so the interleave across shards, and with it
    the order of the examples, is the same as the record-by-record reader's. With `parse`,
    the whole shard's records are parsed at once and the chunks are the parsed tensors (the
    same rows): string tensors of records are then never sliced or regrouped, which is most of
    what batching serialized records costs. The shard's bytes
    as stored are hashed once (TensorFlow has no sha256 op: `tf.numpy_function` with hashlib)
    and compared with the manifest's before anything is decompressed or cut; then the record
    index (`lengths`, `reproml.records.record_index`) is checked against the framing: the
    stream's size and every record's length header. Every failure names the shard.
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
    # One check of the index against the framing: the stream's size, and every record's
    # 8-byte length header (read at offsets clamped into the stream, so that a wrong index
    # fails this check, not substr with a nameless out-of-range error).
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
        records = tf.strings.substr(content, offsets + record_index.HEADER_BYTES, lengths)
    # Whole chunks as the rows of one [k, chunk, ...] tensor, then the partial last chunk if
    # any, then the empty end marker: one op per shard and one element per chunk, and no
    # tf.data function per shard (a filter here measurably slowed reading).
    rows = records if parse is None else parse(records)
    count = tf.size(records, out_type=tf.int64)
    whole = count // _COUNT_CHUNK * _COUNT_CHUNK

    def whole_chunks(t: tf.Tensor) -> tf.Tensor:
        return tf.reshape(t[:whole], tf.concat([[-1, _COUNT_CHUNK], tf.shape(t)[1:]], axis=0))

    chunks = tf.data.Dataset.from_tensor_slices(tf.nest.map_structure(whole_chunks, rows))
    rest = tf.data.Dataset.from_tensors(tf.nest.map_structure(lambda t: t[whole:], rows))
    end = tf.data.Dataset.from_tensors(tf.nest.map_structure(lambda t: t[:0], rows))
    return chunks.concatenate(rest.take(tf.cast(count > whole, tf.int64))).concatenate(end)


def _record_lengths(manifest: Manifest, split: str, shard_indices: Sequence[int]) -> list | None:
    """Return each picked shard's record lengths, or None if a shard has no record index.

    Raises:
      RecordError: an index that cannot be decoded or lists another number of records.
    """
    shards = manifest.splits[split].shards
    if any(shards[i].record_lengths is None for i in shard_indices):
        return None
    lengths = []
    for i in shard_indices:
        try:
            lengths.append(record_index.decode_lengths(shards[i].record_lengths, shards[i].records))
        except record_index.RecordIndexError as err:
            raise RecordError(
                _manifest_path(manifest),
                f"has a bad record index for shard {i} of split {split!r} "
                f"({shards[i].file}): {err}",
                shard_check.FIX,
            ) from err
    return lengths


def _manifest_path(manifest: Manifest) -> Path:
    return Path(manifest.record_dir or ".") / MANIFEST_NAME


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
    use_index: bool = True,
    check_sha256: bool = True,
    parse: Callable[[tf.Tensor], Any] | None = None,
) -> tf.data.Dataset:
    """Interleave the shards' serialized records (or, with `parse` and `as_chunks`, parsed chunks).

    When every picked shard has a record index in the manifest (and `use_index`), each shard
    is read whole, its sha256 checked (unless not `check_sha256`, for the benchmark's cost
    row) and cut into chunks of records (`_indexed_shard`); otherwise each shard is read record
    by record and counted (`_counted_shard`, manifests written before the index). Both give
    the same elements, so the same order.

    `shard_indices` picks shards of the split (positions in the manifest, e.g. one trainer's
    `shard_files`); `paths` is then the whole split's, and each picked path keeps its count.
    Shards are interleaved in chunks of `_COUNT_CHUNK` records. With `as_chunks` the elements
    are those chunks (1-D string tensors; each shard's empty end marker included), for callers
    that regroup them into batches with `rebatch`: no per-record tf.data work at all, which is what makes batched reading fast
    (docs/performance.md). Otherwise the elements are single records, in the same order.

    `parse` (only with `as_chunks`) maps a 1-D tensor of serialized records to parsed tensors
    with that leading dimension; the elements are then parsed chunks, the same rows in the same
    order. An indexed shard is parsed whole, inside the parallel interleave.
    """
    if parse is not None and not as_chunks:
        raise ValueError("parse needs as_chunks=True")
    shards = manifest.splits[split].shards
    picked = list(range(len(shards))) if shard_indices is None else list(shard_indices)
    paths = [paths[i] for i in picked]
    counts = [shards[i].records for i in picked]
    if num_parallel_reads is None or num_parallel_reads == tf.data.AUTOTUNE:
        cycle_length = min(len(paths), DEFAULT_CYCLE_LENGTH)
    elif isinstance(num_parallel_reads, int) and num_parallel_reads >= 1:
        cycle_length = min(len(paths), num_parallel_reads)
    else:
        raise ConfigError(
            "num_parallel_reads", "None, a positive int or tf.data.AUTOTUNE", num_parallel_reads
        )
    compression = manifest.compression or ""
    check_exists = not any(char in str(p) for p in paths for char in "*?[]\\")
    lengths = _record_lengths(manifest, split, picked) if use_index else None
    if lengths is None:
        files = tf.data.Dataset.from_tensor_slices(
            ([str(p) for p in paths], tf.constant(counts, tf.int64))
        )

        def read_shard(path: tf.Tensor, expected: tf.Tensor) -> tf.data.Dataset:
            return _counted_shard(path, expected, compression, check_exists)

    else:
        all_lengths = tf.constant(np.concatenate(lengths), tf.int64)
        ends = np.cumsum(counts, dtype=np.int64)
        manifest_path = _manifest_path(manifest)
        files = tf.data.Dataset.from_tensor_slices(
            (
                [str(p) for p in paths],
                [shards[i].sha256 for i in picked],
                [f"shard {i} of split {split!r} in {manifest_path}" for i in picked],
                tf.constant(ends - np.asarray(counts, np.int64), tf.int64),
                tf.constant(ends, tf.int64),
            )
        )

        def read_shard(path, sha256, where, first, end) -> tf.data.Dataset:  # noqa: ANN001
            return _indexed_shard(
                path,
                sha256,
                where,
                all_lengths[first:end],
                compression,
                check_sha256,
                parse,
            )

    if shuffle_files:
        files = files.shuffle(len(paths), seed=shuffle_files_seed, reshuffle_each_iteration=True)
    chunks = files.interleave(
        read_shard,
        cycle_length=cycle_length,
        block_length=1,
        num_parallel_calls=tf.data.AUTOTUNE,
        deterministic=deterministic,
    )
    if not as_chunks:
        return chunks.unbatch()  # the empty end markers vanish here
    # The empty end markers stay (a filter costs a function call per chunk): `rebatch`, which
    # every caller of as_chunks applies, regroups rows, so they vanish there.
    if parse is not None and lengths is None:
        chunks = chunks.map(parse, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return chunks


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
        _check_positive_int("batch_size", batch_size)
    paths = shard_check.verify_shards(manifest, record_dir, split, verify)
    if batch_size is not None:  # parsed in chunks of a shard, regrouped into batches
        return _serialized_records(
            manifest,
            paths,
            split,
            deterministic=deterministic,
            num_parallel_reads=num_parallel_reads,
            as_chunks=True,
            parse=_parser(specs, batched=True),
        ).rebatch(batch_size)
    dataset = _serialized_records(
        manifest,
        paths,
        split,
        deterministic=deterministic,
        num_parallel_reads=num_parallel_reads,
    )
    return dataset.map(
        _parser(specs, batched=False),
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
    _check_positive_int("buffer_size", buffer_size)
    if n_epochs is not None:
        _check_positive_int("n_epochs", n_epochs)
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
    _check_positive_int("batch_size", batch_size)
    _check_positive_int("shuffle_buffer", shuffle_buffer)
    if n_epochs is not None:
        _check_positive_int("n_epochs", n_epochs)
    paths = shard_check.verify_shards(manifest, record_dir, split, verify)
    shuffle = split == "train" if shuffle is None else shuffle
    parse = _parser(specs, batched=True)
    feature_keys = tuple(feature_keys)

    def to_model_inputs(
        serialized: tf.Tensor,
    ) -> dict[str, tf.Tensor] | tuple[dict[str, tf.Tensor], tf.Tensor]:
        decoded = parse(serialized)
        features = {key: decoded[key] for key in feature_keys}
        if label_key is None:
            return features
        if specs[label_key].decode_as == "multi_hot":  # a label set: float32 multi-hot
            return features, decoded[label_key]
        return features, tf.cast(decoded[label_key], tf.int64)

    def make_dataset(mode: str | None = None, input_context: object = None) -> tf.data.Dataset:
        shards = train_shards(manifest, split, mode, input_context)
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
            parse=None if shuffle else to_model_inputs,
        )
        if shuffle:  # shuffle single serialized records (cheap strings), then batch them
            records = shuffle_repeat_prefetch(records, shuffle_buffer, n_epochs, random_seed)
            batches = records.batch(batch_size, drop_remainder=drop_remainder)
            batches = batches.map(to_model_inputs, num_parallel_calls=tf.data.AUTOTUNE)
        else:  # parsed chunks of a shard's records, regrouped into batches
            batches = records.repeat(n_epochs).rebatch(batch_size, drop_remainder=drop_remainder)
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


def _check_positive_int(entry: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(entry, "a positive int", value)
