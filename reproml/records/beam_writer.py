"""`WriteRecords`: `write_records` as an Apache Beam transform, for data that outgrows one machine.

The flow, on any Beam runner (DirectRunner, Dataflow, Flink, Spark)::

    (split, index, row) -> key by shard (split, index // samples_per_record) -> GroupByKey
        -> [worker] sort by index, write_shard: handle_batch per key, example_codec, tfrecord_io
           -> hidden temp shard in record_dir/.reproml-beam-<token>/ (fsync, sha256)
        -> ToList (one element, after every shard) -> [one worker] check the shard assignment,
           build the manifest, commit (rename into place, manifest.json last), remove the staging

Shard assignment, shard encoding, staging, commit and manifest are `reproml.records.writer`'s own
functions (`check_write_args`, `WriteSpec.shard_task`, `write_shard`, `plan_shards`,
`build_manifest`, `commit`): the same rows give the same shard files, byte for byte, and the
same ``manifest.json`` (fingerprint included) as `write_records`.

A row that cannot be written (a handler error, a bad element, a missing or repeated index) does
not fail its worker: its shard writes nothing and passes the error on to the commit step, which
removes every staged shard of the write and raises the first error in (split, row) order, the
one `write_records` would raise. So a failed write leaves ``record_dir`` as it was (an earlier
write, its shards and its manifest, untouched). A bundle that fails otherwise (an ``OSError``,
a killed worker) is retried by the runner and rewrites its shard under a new temp name; temp
files of failed attempts stay in the staging directory, which the commit removes.
"""

from __future__ import annotations

import bisect
import dataclasses
import io
import numbers
import os
import pickle
import shutil
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import apache_beam as beam

from reproml.errors import ConfigError
from reproml.records.handler import FeatureHandler
from reproml.records.manifest import Manifest
from reproml.records.writer import (
    TMP_SUFFIX,
    StagedShard,
    WriteSpec,
    build_manifest,
    check_write_args,
    commit,
    plan_shards,
    remove_stale_temp_files,
    write_shard,
)

STAGING_PREFIX = ".reproml-beam-"
_INVALID = ("", -1)  # shard key of elements that are not (split, index, row); no split is ""


@dataclasses.dataclass(frozen=True)
class _Failure:
    """A shard that could not be written: the error, and where it is in write order."""

    order: tuple[int, int, int]  # (split position, first row index, 0); invalid elements first
    error: BaseException


class WriteRecords(beam.PTransform):
    """Write a PCollection of ``(split, index, row)`` as `write_records` would write those rows.

    ``index`` is the row's position in its split (0, 1, ... with none missing or repeated): shard
    ``idx`` of a split holds rows ``idx * samples_per_record`` onward, in index order, exactly as
    `write_records` chunks ``rows_gen(split)``. Rows without such an index get one from
    `IndexByOrderKey`. The output is a PCollection of one element: the `Manifest` written.

    Args:
      record_dir: directory of the shards and the manifest; every worker must be able to write
        it and rename files in it (a local disk for the DirectRunner, a shared file system such as
        NFS or a mounted bucket on a cluster).
      record_pattern: shard file name with ``{split}`` and ``{idx}``.
      keys_to_handlers: row key -> handler that encodes ``row[key]`` (pickled to the workers:
        handlers must be importable there, as the installed ``handlers`` package is).
      samples_per_record: examples per shard (the last shard of a split holds the remainder).
      keys_to_descriptions: key -> free text stored in the manifest schema.
      compression: None, ``"GZIP"`` or ``"ZLIB"``.
      source: JSON-serializable description of where the rows came from (stored as is).
      splits: the splits that may occur, in manifest order.

    Raises:
      ConfigError: a bad argument (when the transform is built); when the pipeline runs, an
        element that is not ``(split, index, row)`` with a known split, or a split whose indices
        are not ``0..n-1`` each once (names the split and the index).
      HandlerError: a row a handler cannot encode (names split, row index and key). On runners
        that run workers in other processes, the pipeline's error carries this message.
    """

    def __init__(
        self,
        record_dir: str | os.PathLike,
        record_pattern: str,
        keys_to_handlers: Mapping[str, FeatureHandler],
        samples_per_record: int,
        *,
        keys_to_descriptions: Mapping[str, str] | None = None,
        compression: str | None = None,
        source: Mapping[str, Any] | None = None,
        splits: Sequence[str] = ("train", "eval", "test"),
    ) -> None:
        super().__init__()
        self.spec = check_write_args(
            record_pattern,
            keys_to_handlers,
            samples_per_record,
            keys_to_descriptions=keys_to_descriptions,
            compression=compression,
            source=source,
            splits=splits,
            split_to_size={},
        )
        self.record_dir = os.path.abspath(os.fspath(record_dir))
        self.keys_to_handlers = dict(keys_to_handlers)

    def expand(self, rows: beam.PCollection) -> beam.PCollection:
        """Build the write: key by shard, group, write shards, then commit once."""
        staging = os.path.join(self.record_dir, f"{STAGING_PREFIX}{uuid.uuid4().hex[:12]}")
        spec = self.spec
        staged = (
            rows
            | "KeyByShard" >> beam.Map(_key_by_shard, spec.samples_per_record, spec.splits)
            | "GroupByShard" >> beam.GroupByKey()
            | "WriteShards" >> beam.ParDo(_WriteShardFn(spec, self.keys_to_handlers, staging))
        )
        return (
            staged
            | "AllShards" >> beam.combiners.ToList()
            | "Commit" >> beam.Map(_commit_all, spec, self.record_dir, staging)
        )


class IndexByOrderKey(beam.PTransform):
    """``(split, order_key, row)`` -> ``(split, index, row)``: index = rank of the key in its split.

    For sources whose rows have no position of their own (files read in parallel, a database
    query): give each row a key that orders it, e.g. ``(file name, line number)`` from
    `lines_with_position`. Keys must be distinct within a split and comparable with each other.
    Every split's keys are collected on one worker to rank them (memory: the keys, not the rows).

    Raises:
      ConfigError: when the pipeline runs, two rows of a split with the same key, or keys that
        cannot be compared (names the split and the key).
    """

    def expand(self, rows: beam.PCollection) -> beam.PCollection:
        """Rank the keys of each split (a side input), then replace each row's key by its rank."""
        sorted_keys = (
            rows
            | "OrderKeys" >> beam.Map(_split_and_key)
            | "GroupKeys" >> beam.GroupByKey()
            | "SortKeys" >> beam.MapTuple(_sorted_distinct_keys)
        )
        return rows | "Rank" >> beam.Map(_rank, beam.pvalue.AsDict(sorted_keys))


def lines_with_position(path: str) -> Iterator[tuple[tuple[str, int], str]]:
    """Yield ``((file name, line number), line)`` for each line of a text file (any Beam path).

    The order key of a line-oriented source: use with ``beam.FlatMap`` over a sorted list of
    files, then `IndexByOrderKey`. The file name is the last path component, so the same files
    give the same keys on a laptop and in a bucket.
    """
    from apache_beam.io.filesystems import FileSystems

    name = path.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]
    with FileSystems.open(path) as raw:
        for lineno, line in enumerate(io.TextIOWrapper(raw, encoding="utf-8", newline="")):
            yield (name, lineno), line.rstrip("\r\n")


# ---------------------------------------------------------------------------------------------
# Steps of the pipeline (module level: pickled by reference, imported on the workers).


def _key_by_shard(
    element: Any, samples_per_record: int, splits: tuple[str, ...]
) -> tuple[tuple[str, int], tuple[int | None, Any]]:
    """``(split, index, row)`` -> ``((split, shard idx), (index, row))``; never raises.

    An element that is not a valid row is keyed to `_INVALID` with its error as the value, so
    that the commit step, not a worker, fails the write (and removes what was staged).
    """
    try:
        split, index, row = element
    except (TypeError, ValueError):
        return _INVALID, (None, _bad_element(element))
    if split not in splits:
        error = ConfigError("WriteRecords rows", f"a split of {list(splits)}", split)
        return _INVALID, (None, error)
    if isinstance(index, bool) or not isinstance(index, numbers.Integral) or index < 0:
        error = ConfigError(f"WriteRecords rows of split {split!r}", "an index int >= 0", index)
        return _INVALID, (None, error)
    if not isinstance(row, Mapping):
        got = f"{type(row).__name__} at index {int(index)}"
        error = ConfigError(f"WriteRecords rows of split {split!r}", "a row mapping", got)
        return _INVALID, (None, error)
    index = int(index)
    return (split, index // samples_per_record), (index, row)


def _bad_element(element: Any) -> ConfigError:
    got = f"{type(element).__name__} {element!r}"[:200]
    return ConfigError("WriteRecords rows", "(split, index, row) tuples", got)


class _WriteShardFn(beam.DoFn):
    """Write one shard's rows (sorted by index) to a temp file in the staging directory."""

    def __init__(
        self, spec: WriteSpec, keys_to_handlers: Mapping[str, FeatureHandler], staging: str
    ) -> None:
        super().__init__()
        self.spec, self.keys_to_handlers, self.staging = spec, dict(keys_to_handlers), staging

    def process(
        self, element: tuple[tuple[str, int], Iterable[tuple[int | None, Any]]]
    ) -> Iterator[StagedShard | _Failure]:
        """Yield the staged shard, or a `_Failure` when its rows cannot be written."""
        (split, idx), items = element
        if (split, idx) == _INVALID:
            errors = [error for _index, error in items]
            yield _Failure((-1, 0, 0), errors[0])
            return
        items = sorted(items, key=lambda item: item[0])
        spr = self.spec.samples_per_record
        order = (self.spec.splits.index(split), idx * spr, 0)
        problem = _index_problem(split, idx * spr, [index for index, _row in items])
        if problem is not None:
            yield _Failure((order[0], problem[0], 0), problem[1])
            return
        os.makedirs(self.staging, exist_ok=True)
        file = self.spec.record_pattern.format(split=split, idx=idx)
        attempt = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        tmp_path = os.path.join(self.staging, f".{file}.{attempt}{TMP_SUFFIX}")
        task = self.spec.shard_task(split, idx, [row for _index, row in items], tmp_path)
        try:
            staged = write_shard(task, self.keys_to_handlers)
        except OSError:
            Path(tmp_path).unlink(missing_ok=True)
            raise  # possibly transient: the runner retries the bundle
        except Exception as err:  # the rows' fault: the same on every retry
            Path(tmp_path).unlink(missing_ok=True)
            yield _Failure(order, _picklable(err))
            return
        yield staged


def _index_problem(split: str, first: int, indices: list[int]) -> tuple[int, ConfigError] | None:
    """Return (index, error) if a shard's sorted indices are not ``first, first + 1, ...``."""
    for expected, index in zip(range(first, first + len(indices)), indices, strict=True):
        if index == expected:
            continue
        if index < expected:  # sorted: the same index again
            return index, ConfigError(
                f"WriteRecords rows of split {split!r}", "each index once", f"index {index} twice"
            )
        return expected, _missing(split, expected)
    return None


def _missing(split: str, index: int) -> ConfigError:
    return ConfigError(
        f"WriteRecords rows of split {split!r}",
        "indices 0..n-1 with none missing",
        f"no row with index {index}",
    )


def _picklable(error: BaseException) -> BaseException:
    """Return `error` if it survives pickling (it goes to another worker), else a plain copy."""
    try:
        pickle.loads(pickle.dumps(error))
    except Exception:
        notes = "".join(f"\n{note}" for note in getattr(error, "__notes__", []))
        return RuntimeError(f"{type(error).__name__}: {error}{notes}")
    return error


def _commit_all(
    results: list[StagedShard | _Failure], spec: WriteSpec, record_dir: str, staging: str
) -> Manifest:
    """Check every shard is there, build the manifest, commit; always remove the staging."""
    try:
        failures = [r for r in results if isinstance(r, _Failure)]
        if failures:
            raise min(failures, key=lambda f: f.order).error
        staged = sorted(results, key=lambda r: (spec.splits.index(r.split), r.idx))
        _check_assignment(spec, staged)
        manifest = build_manifest(spec, staged)
        Path(record_dir).mkdir(parents=True, exist_ok=True)
        remove_stale_temp_files(record_dir)
        commit(Path(record_dir), staged, manifest)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    for stale in Path(record_dir).glob(f"{STAGING_PREFIX}*"):  # of killed earlier writes
        shutil.rmtree(stale, ignore_errors=True)
    return manifest


def _check_assignment(spec: WriteSpec, staged: list[StagedShard]) -> None:
    """Check that the staged shards are the shards `write_records` makes of as many rows."""
    counts: dict[str, int] = {}
    for shard in staged:
        counts[shard.split] = counts.get(shard.split, 0) + shard.shard.records
    plan = plan_shards(spec.record_pattern, spec.samples_per_record, counts, spec.splits)
    spr = spec.samples_per_record
    for split, sizes in plan.items():
        got = {s.idx: s.shard.records for s in staged if s.split == split}
        for idx, size in enumerate(sizes):
            if got.get(idx) != size:  # a short shard before the last, or a missing one
                raise _missing(split, idx * spr + got.get(idx, 0))


def _split_and_key(element: Any) -> tuple[str, Any]:
    split, key, _row = element
    return split, key


def _sorted_distinct_keys(split: str, keys: Iterable[Any]) -> tuple[str, list[Any]]:
    try:
        ordered = sorted(keys)
    except TypeError as err:
        raise ConfigError(
            f"order keys of split {split!r}", "keys comparable with each other", str(err)
        ) from err
    for before, after in zip(ordered, ordered[1:], strict=False):
        if before == after:
            raise ConfigError(
                f"order keys of split {split!r}",
                "distinct keys (rows with one key have no defined order)",
                f"{after!r} twice",
            )
    return split, ordered


def _rank(element: Any, sorted_keys: Mapping[str, list[Any]]) -> tuple[str, int, Any]:
    split, key, row = element
    return split, bisect.bisect_left(sorted_keys[split], key), row
