"""`reproml push RUNS_DIR --mongo URL`: copy file-store runs into MongoDB (see `reproml.runs.push`).

Each run is replayed through Sacred's own MongoObserver, so MongoDB holds it exactly as if it had
been recorded live with ``-m``. Idempotent: an unchanged run is skipped, a changed one (pushed
while still RUNNING, or a push killed half-way) is replaced under the same id.
"""

from __future__ import annotations

import argparse
import os
import sys

from tqdm import tqdm

from reproml.errors import CliError
from reproml.runs.file_store import FileStore
from reproml.runs.mongo import URL_ENV, connect, target_from_url
from reproml.runs.push import OUTCOMES, push_run
from reproml.runs.safe_names import check_stored_run


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register `push`."""
    parser = subparsers.add_parser("push", help="upload file-store runs into MongoDB")
    parser.add_argument("source", metavar="RUNS_DIR", help="FileStorageObserver directory")
    parser.add_argument("--mongo", dest="push_mongo", help=f"MongoDB URL (or ${URL_ENV})")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Push every readable run of RUNS_DIR; returns 0.

    Raises:
      UnsafeNameError: a run's record names a file outside its run or store: refused before
        anything is pushed.
    """
    url = args.push_mongo or getattr(args, "mongo", None) or os.environ.get(URL_ENV)
    if not url:
        raise CliError(f"push needs a target: --mongo URL (or ${URL_ENV})")
    target = target_from_url(url, "--mongo")
    store = FileStore(args.source)
    runs, warnings = store.list_runs()
    for line in warnings:
        print(f"warning: {line}", file=sys.stderr)
    for record in runs:
        check_stored_run(record, store.root)
    db = connect(target)
    counts = dict.fromkeys(OUTCOMES, 0)
    for record in tqdm(runs, desc="push", unit="run", disable=None, file=sys.stderr):
        outcome, mongo_id = push_run(db, record, store.root)
        counts[outcome] += 1
        print(f"run {record.run_id} -> {target.display} runs/{mongo_id}: {outcome}")
    print(", ".join(f"{n} {what}" for what, n in counts.items()) + f" ({len(warnings)} skipped)")
    return 0
