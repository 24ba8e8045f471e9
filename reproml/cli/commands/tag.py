"""`reproml tag RUN`: add or remove tags and set the note of a run, on either store.

    reproml tag 12 baseline best               # add tags
    reproml tag 12 --remove best               # remove one
    reproml tag 12 --note "lr too high"        # set the note ("" clears it)
    reproml tag 12                             # print its tags and note

MongoDB: Omniboard's own ``omniboard.tags`` / ``omniboard.notes``; file store: the run's
``omniboard.json`` (carried into those fields by push). See docs/tags_and_housekeeping.md.
"""

from __future__ import annotations

import argparse

from reproml.runs.annotations import annotate, annotations_of, notes_of
from reproml.runs.stores import open_store


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register `tag`."""
    parser = subparsers.add_parser("tag", help="add/remove tags and set the note of a run")
    parser.add_argument("run_id", metavar="RUN", help="run id")
    parser.add_argument("tags", nargs="*", metavar="TAG", help="tags to add")
    parser.add_argument("--remove", action="append", default=[], metavar="TAG", help="remove")
    parser.add_argument("--note", default=None, help="set the run's note ('' clears it)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Change (or print) the run's tags and note; returns 0."""
    store = open_store(args)
    record = store.get_run(args.run_id)
    if args.tags or args.remove or args.note is not None:
        annotate(store, record, add=args.tags, remove=args.remove, notes=args.note)
        record = store.get_run(args.run_id)
    tags = annotations_of(record)["tags"]
    print(f"run {record.run_id}  tags: {', '.join(tags) or '-'}  note: {notes_of(record) or '-'}")
    return 0
