"""`reproml verify RECORD_DIR`: recompute a record directory's hashes (placeholder, see below)."""

from __future__ import annotations

import argparse


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register `verify`."""
    parser = subparsers.add_parser("verify", help="recompute the hashes of a record directory")
    parser.add_argument("record_dir", metavar="RECORD_DIR")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run `reproml.verify.verify`."""
    from reproml.verify import verify

    verify(args.record_dir)
    return 0
