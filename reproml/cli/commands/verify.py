"""`reproml verify TARGET`: check a record directory against its manifest, or a run against its seal.

* ``verify RECORD_DIR`` (a directory with ``manifest.json``): recompute the shards' hashes
  (`reproml.records.verify.verify`); one ``DIFFERS`` line per problem (each names the file: a
  shard whose size or sha256 differs, a missing or unlisted shard, an edited manifest).
* ``verify RUN`` (a run id of ``--store`` / ``--mongo``, or a run directory): re-hash the run's
  record and every artifact and compare them with its seal (`reproml.runs.seal`); one
  ``CHANGED`` line per changed, missing or extra file. With ``--public-key FILE`` (or
  ``$REPROML_TRUSTED_KEY``) the seal must also be signed by that key.

* ``verify --all``: every run of the store, for a team that requires seals (a CI step): one
  line per finished run that is ``TAMPERED`` (what changed) or ``UNSEALED``, and per run the
  store cannot read (``UNREADABLE``); running runs are counted, not judged.

Exit 0: it matches; 1: something differs (each named; ``--all``: any tampered, unsealed or
unreadable run); 2: nothing to check (no manifest, a run without a seal, or still running).
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

from reproml.errors import CliError
from reproml.records.manifest import load_manifest
from reproml.records.verify import verify
from reproml.runs.file_store import FileStore
from reproml.runs.seal import check_run
from reproml.runs.signing import TRUSTED_KEY_ENV, trusted_key
from reproml.runs.stores import RunStore, open_store

EXIT_DIFFERS = 1


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register `verify`."""
    parser = subparsers.add_parser(
        "verify", help="check a record directory's hashes, or a run against its seal"
    )
    parser.add_argument(
        "target",
        metavar="RECORD_DIR|RUN",
        nargs="?",
        help="a directory with manifest.json, a run id of the store, or a run directory",
    )
    parser.add_argument(
        "--all",
        action="store_true",
        help="check every run of the store: exit 1 naming each tampered or unsealed finished run",
    )
    parser.add_argument(
        "--public-key",
        default=None,
        help=f"the team's public key: the run's seal must be signed by it (default: ${TRUSTED_KEY_ENV})",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Verify a record directory or a run; return 0 if it matches, 1 if anything differs."""
    if args.all == (args.target is not None):
        raise CliError("give a RECORD_DIR or a RUN, or --all (every run of the store), not both")
    if args.all:
        return verify_all(open_store(args), args.public_key)
    target = Path(args.target)
    if target.is_dir() and (target / "run.json").is_file():
        store = FileStore(target.parent)
        return verify_run(store, store.get_run(target.name), args.public_key)
    if target.exists() or "/" in args.target or "\\" in args.target:  # a path, not a run id
        if not target.is_dir():
            raise CliError(f"{target} is not a directory")
        return verify_record_dir(target)
    store = open_store(args)
    return verify_run(store, store.get_run(args.target), args.public_key)


def verify_run(store: object, record: object, public_key_path: str | None) -> int:
    """Check one run against its seal; print one line per problem; return the exit code.

    Raises:
      CliError: the run has no seal (recorded before sealing, or its record is incomplete) or
        is still running: there is nothing to check it against.
    """
    public_key = trusted_key(public_key_path)
    check = check_run(store, record, full=True, public_key=public_key)
    name = f"run {record.run_id} ({record.location})"
    if check.state == "running":
        raise CliError(f"{name} is still running: its record is sealed when it ends")
    if check.state == "unsealed":
        raise CliError(
            f"{name} has no seal: recorded before sealing, or a store failed during the run "
            "(its record is incomplete); nothing to check it against"
        )
    if check.tampered:
        for problem in check.problems:
            print(f"CHANGED  {problem}")
        what = "a seal signed by the trusted key" if public_key is not None else "its seal"
        print(f"{name}: {len(check.problems)} problem(s); the record does not match {what}")
        return EXIT_DIFFERS
    signed = f", signed by key {check.key_id}" if check.key_id else ", unsigned"
    trusted = " (the trusted key)" if public_key is not None else ""
    artifacts = len(record.artifacts)
    print(f"{name}: OK, the record and {artifacts} artifact(s) match its seal")
    print(f"seal sha256:{check.digest}{signed}{trusted}")
    return 0


def verify_all(store: RunStore, public_key_path: str | None) -> int:
    """Check every run of `store` against its seal; print one line per failing run.

    A finished run fails when it is tampered or unsealed; a run the store cannot read fails too.
    Running runs are not sealed yet: they are counted in the summary only.

    Returns:
      0 when every finished run matches its seal, else `EXIT_DIFFERS`.
    """
    public_key = trusted_key(public_key_path)
    runs, unreadable = store.list_runs()
    lines = [f"UNREADABLE  {line}" for line in unreadable]
    states: Counter = Counter()
    for record in runs:
        check = check_run(store, record, full=True, public_key=public_key)
        states[check.state] += 1
        if check.tampered:
            lines.append(f"TAMPERED  run {record.run_id}: {'; '.join(check.problems)}")
        elif check.state == "unsealed":
            lines.append(
                f"UNSEALED  run {record.run_id} ({record.status}): recorded before sealing, "
                "or a store failed during the run"
            )
    for line in lines:
        print(line)
    counts = ", ".join(f"{n} {state}" for state, n in sorted(states.items())) or "no runs"
    signed = " (signed by the trusted key)" if public_key is not None else ""
    if lines:
        total = len(runs) + len(unreadable)
        if unreadable:
            counts += f", {len(unreadable)} unreadable"
        print(f"{store.description}: {len(lines)} problem(s) among {total} run(s) ({counts})")
        return EXIT_DIFFERS
    print(f"{store.description}: OK, every finished run matches its seal{signed} ({counts})")
    return 0


def verify_record_dir(record_dir: Path) -> int:
    """Verify RECORD_DIR against its manifest; return 0 if it matches, 1 if anything differs."""
    problems = verify(record_dir, progress=sys.stderr.isatty())
    if problems:
        for problem in problems:
            print(f"DIFFERS  {problem}")
        print(f"{record_dir}: {len(problems)} problem(s); the records do not match manifest.json")
        return EXIT_DIFFERS
    manifest = load_manifest(record_dir)
    shards = sum(len(info.shards) for info in manifest.splits.values())
    examples = {split: info.num_examples for split, info in manifest.splits.items()}
    print(f"{record_dir}: OK, {shards} shard(s) match manifest.json {examples}")
    print(f"fingerprint {manifest.fingerprint}")
    return 0
