"""`reproml verify RECORD_DIR`: recompute a record directory's hashes against its manifest.

Prints one line per problem `reproml.records.verify.verify` finds (each names the file: the shard
whose size or sha256 differs, a missing or unlisted shard, an edited manifest) and exits 1;
prints the fingerprint and exits 0 when everything matches; exits 2 when there is no readable
manifest at all.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from reproml.runs.record import CliError

EXIT_DIFFERS = 1


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register `verify`."""
    parser = subparsers.add_parser("verify", help="recompute the hashes of a record directory")
    parser.add_argument("record_dir", metavar="RECORD_DIR", help="directory with manifest.json")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Verify RECORD_DIR; return 0 if it matches its manifest, 1 if anything differs."""
    from reproml.records.manifest import load_manifest  # imports TensorFlow: only here
    from reproml.records.verify import verify

    record_dir = Path(args.record_dir)
    if not record_dir.is_dir():
        raise CliError(f"{record_dir} is not a directory")
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
