"""Choose the run store from the global options.

``--mongo URL`` (or REPROML_MONGO_URL) selects MongoDB, else ``--store DIR`` (default
``runs/``) the file store.
"""

from __future__ import annotations

import argparse
import os
from typing import Protocol

from reproml.runs.file_store import FileStore
from reproml.runs.mongo import URL_ENV as MONGO_URL_ENV
from reproml.runs.mongo_store import open_mongo_store
from reproml.runs.record import RunRecord

DEFAULT_STORE = "runs"


class RunStore(Protocol):
    """What every command needs from a store."""

    description: str

    def list_runs(self) -> tuple[list[RunRecord], list[str]]:
        """Return the readable runs and one warning per unreadable run."""

    def get_run(self, run_id: str) -> RunRecord:
        """Return one run or raises CliError naming the missing id."""

    def read_artifact(self, run: RunRecord, name: str) -> bytes:
        """Return an artifact's bytes."""


def open_store(args: argparse.Namespace) -> RunStore:
    """Return the MongoDB store if a URL is set, else the file store at ``--store``."""
    if getattr(args, "mongo", None):
        return open_mongo_store(args.mongo, "--mongo")
    if os.environ.get(MONGO_URL_ENV):
        return open_mongo_store(os.environ[MONGO_URL_ENV], MONGO_URL_ENV)
    return FileStore(args.store or DEFAULT_STORE)


def list_runs_warning(store: RunStore) -> list[RunRecord]:
    """Return the store's readable runs; warn on stderr, one line per unreadable run.

    Listing commands go on with the other runs.
    """
    import sys

    runs, warnings = store.list_runs()
    for line in warnings:
        print(f"warning: {line}", file=sys.stderr)
    return runs


def filter_runs(
    runs: list[RunRecord], experiment: str | None = None, status: str | None = None
) -> list[RunRecord]:
    """Keep the runs of `experiment` and with `status` (case-insensitive), when given."""
    if experiment:
        runs = [r for r in runs if r.experiment == experiment]
    if status:
        runs = [r for r in runs if status.upper() in (r.status.upper(), r.shown_status)]
    return runs
