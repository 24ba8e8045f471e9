"""A run proves what it read: the records' shards are hashed before it trains and when it ends.

`read_records_in_run` is the one up-front check every command that reads a record directory
makes (the dataset ingredient's `ensure_records`: train, evaluate, embed, drift, reproduce;
the drift command's production records)::

    take a read lease (record_dir/.readers/)      a rewrite by write_records is now refused
    reload the manifest, same fingerprint         else: rewritten while the run started
    verify_for_run: fingerprint + sha256/shard    else: fail naming the shard, before training
    info["records_read"] += [{record_dir, ...}]   what was checked, seconds it took, and the
                                                  read order of input_fn (1 or 2, docs/inputs.md)
    ... the run ...
    at the end of its main function:              (`reproml.tracking.run_end.at_main_end`)
      returned -> verify_for_run again            a shard changed under the run (a manual
                                                  copy): FAILED naming it, never COMPLETED
      release the lease                           also on failure and interrupt

The lease is taken before the hashes are checked, so no writer can slip in between the check
and the reading. A killed run's lease is stale (its pid is dead) and is ignored by writers.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from reproml.errors import ConfigError, RecordError
from reproml.records.manifest import MANIFEST_NAME, Manifest, load_manifest
from reproml.records.readers import ReadLease, take_read_lease
from reproml.records.verify import FIX, RunVerification, verify_for_run
from reproml.records.whole_shards import read_order
from reproml.sacred_internals import run_id
from reproml.tracking.recording import record_dataset
from reproml.tracking.run_end import at_main_end

RECORDS_READ = "records_read"  # the info key: a list, one entry per record dir read
_log = logging.getLogger("reproml")


def read_records_in_run(
    _run: Any,
    record_dir: str | os.PathLike,
    manifest: Manifest,
    splits: Iterable[str] | None = None,
) -> RunVerification:
    """Lease `record_dir` for this run, check its shards' sha256 now and when the run ends.

    Args:
      _run: the Sacred run (of an experiment wired with `reproml.tracking.experiment.track`).
      record_dir: the record directory the run reads.
      manifest: the manifest the run reads it with.
      splits: the splits the run reads (None: all of them).

    Returns:
      What was verified before the run reads (shards, bytes, seconds).

    Raises:
      RecordError: a shard (named) or the manifest does not match, or the records were
        rewritten since `manifest` was read; the lease is released.
    """
    experiment = (getattr(_run, "experiment_info", None) or {}).get("name")
    lease = take_read_lease(record_dir, run_id=run_id(_run), experiment=experiment)
    try:
        on_disk = load_manifest(record_dir)
        if on_disk.fingerprint != manifest.fingerprint:
            raise RecordError(
                Path(record_dir) / MANIFEST_NAME,
                f"was rewritten while this run started (fingerprint {on_disk.fingerprint!r}, "
                f"the run read {manifest.fingerprint!r})",
                "Run again once the other write is done",
            )
        chosen = None if splits is None else tuple(splits)
        verified = verify_for_run(manifest, record_dir, chosen)
        entry = {
            **verified.to_json(),
            "verified": "sha256 of every shard before reading",
            "read_order": read_order(manifest, chosen),  # reproduce compares like with like
        }
        at_main_end(_run, lambda ok: _end_reading(manifest, chosen, lease, entry, ok))
    except BaseException:
        lease.release()
        raise
    _log.info(
        "verified the sha256 of %d shards (%d bytes) in %s in %.2f s",
        verified.shards,
        verified.bytes,
        record_dir,
        verified.seconds,
    )
    _run.info.setdefault(RECORDS_READ, []).append(entry)
    return verified


def bind_run_to_records(_run: Any, manifest: Manifest) -> None:
    """Verify and record the records of `manifest` unless the run already did (`ensure_records`).

    A run whose own main loads its records (``load_manifest(record_dir)``) and builds a model
    on them has its shards leased and checked (`read_records_in_run`) and its dataset recorded
    in ``info["dataset"]`` (`record_dataset`, named by the manifest's source, else by the
    record directory), so its result is bound to the data like a run of the recipe.

    Raises:
      ConfigError: `manifest` was not loaded from a record directory (no ``record_dir``).
      RecordError: a shard (named) or the manifest does not match.
    """
    if manifest.record_dir is None:
        raise ConfigError(
            "manifest",
            "a manifest loaded from its record directory (load_manifest(record_dir))",
            "a manifest with no record_dir",
        )
    record_dir = manifest.record_dir
    resolved = str(Path(record_dir).resolve())
    if not any(read.get("record_dir") == resolved for read in _run.info.get(RECORDS_READ, [])):
        read_records_in_run(_run, record_dir, manifest)
    if "dataset" not in _run.info:
        record_dataset(_run, record_dir, Path(resolved).name)


def _end_reading(
    manifest: Manifest,
    splits: tuple[str, ...] | None,
    lease: ReadLease,
    entry: dict[str, Any],
    succeeded: bool,
) -> None:
    """Re-verify the shards of a run that succeeded (raise naming a changed one); release."""
    record_dir = lease.reader["record_dir"]
    try:
        if not succeeded:
            return
        try:
            again = verify_for_run(manifest, record_dir, splits)
        except RecordError as err:
            raise RecordError(
                err.path,
                f"changed while this run read it: {err.problem}; the run's results may mix "
                "two datasets",
                FIX,
            ) from err
        entry["seconds_at_end"] = round(again.seconds, 4)
        entry["verified"] = "sha256 of every shard before reading and when the run ended"
    finally:
        lease.release()
