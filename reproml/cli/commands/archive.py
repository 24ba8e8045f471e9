"""`reproml export RUN -o FILE` and `reproml import FILE`: a run as one file, between machines.

    reproml export 3 -o run-3.tar.gz                 # or .zip; default run-<id>.tar.gz
    reproml --mongo URL export 12 -o run-12.zip      # from MongoDB
    reproml import run-3.tar.gz --store other/runs   # under the next free id there
    reproml import run-3.tar.gz --mongo URL          # or into MongoDB

The archive holds the run's files, artifacts, sources and resources as stored, with a header
listing the sha256 of every member and the run's seal (``run/seal.json``); import checks them
all before adding anything (``--public-key``: the seal must be signed by that key), records
``meta.imported_from`` and says "already imported as run N" the second time. Format and
guarantees: `reproml.runs.archive`, docs/tags_and_housekeeping.md.
"""

from __future__ import annotations

import argparse

from reproml.runs.archive import export_run, import_archive
from reproml.runs.delete import describe
from reproml.runs.signing import TRUSTED_KEY_ENV, trusted_key
from reproml.runs.stores import RunStore, open_store


def _store_options(parser: argparse.ArgumentParser, verb: str) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--store", dest="sub_store", metavar="DIR", help=f"file store to {verb}")
    group.add_argument("--mongo", dest="sub_mongo", metavar="URL", help=f"MongoDB to {verb}")


def _store(args: argparse.Namespace) -> RunStore:
    """The store named after the command, else by the global options (as every command)."""
    if args.sub_store or args.sub_mongo:
        args = argparse.Namespace(**{**vars(args), "store": args.sub_store, "mongo": None})
        if args.sub_mongo:
            args.mongo = args.sub_mongo
    return open_store(args)


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register `export` and `import`."""
    export = subparsers.add_parser("export", help="write a run (with artifacts) to one archive")
    export.add_argument("run_id", metavar="RUN", help="run id")
    export.add_argument(
        "-o", "--output", metavar="FILE", help="archive .tar.gz or .zip (default run-<id>.tar.gz)"
    )
    _store_options(export, "read from")
    export.set_defaults(func=run_export)
    imp = subparsers.add_parser("import", help="add a run from an archive under a new id")
    imp.add_argument("archive", metavar="FILE", help="an archive made by `reproml export`")
    _store_options(imp, "import into")
    imp.add_argument(
        "--public-key",
        default=None,
        help=f"the team's public key: refuse a run whose seal it did not sign (default: "
        f"${TRUSTED_KEY_ENV})",
    )
    imp.set_defaults(func=run_import)


def run_export(args: argparse.Namespace) -> int:
    """Export one run; returns 0."""
    store = _store(args)
    record = store.get_run(args.run_id)
    exported = export_run(store, record, args.output or f"run-{record.run_id}.tar.gz")
    print(
        f"exported {describe(record)} to {exported.path}: {exported.members} files, "
        f"{exported.size / 1024:.1f} KB, sha256 {exported.sha256[:16]}..."
    )
    return 0


def run_import(args: argparse.Namespace) -> int:
    """Import one archive; returns 0 (also when it was already imported)."""
    store = _store(args)
    result = import_archive(args.archive, store, public_key=trusted_key(args.public_key))
    if result.outcome == "already imported":
        print(f"{args.archive}: already imported as run {result.run_id} in {store.description}")
    else:
        print(
            f"imported {args.archive} (run {result.original_id} of {result.origin}) as run "
            f"{result.run_id} in {store.description}"
        )
    return 0
