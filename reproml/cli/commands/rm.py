"""`reproml rm RUN [RUN ...]`: delete runs with their artifacts, on either store, asking first.

    reproml rm 12                 # delete run 12 (mnist, COMPLETED, 2026-11-21 11:25:17)? [y/N]
    reproml rm 12 13 --yes        # no question (scripts)
    reproml --mongo URL rm 12     # the same in MongoDB
    reproml rm 12 --force         # even though run 13 resumed from run 12's model dir
    reproml rm 12 --children-in mongodb://host/db   # also look there for warm-start children

Every id is looked up before anything is deleted (an unknown id deletes nothing). A run whose
model dir, checkpoints or export another run uses (`reproml.runs.dependents`: resumed from it,
evaluated or exported its model, shares its model_dir) is refused naming those runs, unless they
are deleted with it or ``--force`` is given (then each directory they name is reported as gone
or left in place). Without
``--yes`` each run is confirmed on the terminal; when stdin is not a terminal the command refuses
in one line instead of guessing. A warm-start parent (``init_from``) is not deleted while its
children stay: the refusal names them (`reproml.runs.lineage.warm_start_children`: named by id
in this store, or started from a checkpoint inside the parent's directories, in this store and
in every store ``--children-in`` names, a MongoDB URL or a file-store directory). Children
recorded only in a store not named are not seen. What goes and what stays:
`reproml.runs.delete`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from reproml.errors import CliError
from reproml.runs.delete import check_deletable, delete_stored_run, describe
from reproml.runs.dependents import Dependent, dependents_of, left_broken
from reproml.runs.file_store import FileStore
from reproml.runs.lineage import warm_start_children
from reproml.runs.mongo_store import MongoStore, open_mongo_store
from reproml.runs.record import RunRecord
from reproml.runs.stores import RunStore, list_runs_warning, open_store


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register `rm`."""
    parser = subparsers.add_parser("rm", help="delete runs with their artifacts (asks first)")
    parser.add_argument("run_ids", nargs="+", metavar="RUN", help="run ids")
    parser.add_argument("-y", "--yes", action="store_true", help="delete without asking")
    parser.add_argument(
        "--force",
        action="store_true",
        help="delete even when other runs use the run's model dir or export (says what broke)",
    )
    parser.add_argument(
        "--children-in",
        action="append",
        default=[],
        metavar="STORE",
        help="also refuse when warm-start children recorded in STORE (a mongodb:// URL or a "
        "file-store directory; repeatable) started from the run's checkpoint",
    )
    parser.set_defaults(func=run)


def confirm(question: str) -> bool:
    """Ask `question` on stderr, read one answer from stdin; only y/yes says yes (EOF: no)."""
    print(f"{question} [y/N] ", end="", file=sys.stderr, flush=True)
    answer = sys.stdin.readline()
    return answer.strip().lower() in ("y", "yes")


def open_children_store(where: str) -> RunStore:
    """Return the store ``--children-in`` names: a ``mongodb://`` URL, else a file-store dir."""
    if where.startswith(("mongodb://", "mongodb+srv://")):
        return open_mongo_store(where, "--children-in")
    return FileStore(where)


def check_no_children(
    store: Any, runs: list[RunRecord], elsewhere: Sequence[RunStore] = ()
) -> None:
    """Refuse to delete a warm-start parent whose children stay (they need its checkpoint).

    Children are looked for in `store` and in each store of `elsewhere`
    (`warm_start_children`).

    Raises:
      CliError: naming the parent and its children that are not deleted with it (and their
        store, when it is another one).
    """
    deleted = {r.run_id for r in runs}
    everything = list_runs_warning(store)
    others = [(other, list_runs_warning(other)) for other in elsewhere]
    for record in runs:
        children = [c for c in warm_start_children(record, everything) if c not in deleted]
        if children:
            raise CliError(
                f"run {record.run_id} is the warm-start parent (init_from) of run(s) "
                f"{', '.join(children)}, which need its checkpoint to be reproduced: delete "
                "them too (list them in the same rm) or keep it"
            )
        for other, listed in others:
            children = warm_start_children(record, listed, same_store=False)
            if children:
                where = other.description
                where = f"MongoDB {where}" if isinstance(other, MongoStore) else where
                raise CliError(
                    f"run {record.run_id} is the warm-start parent (init_from) of run(s) "
                    f"{', '.join(children)} in {where}, which need its checkpoint to be "
                    "reproduced: delete them there first or keep it"
                )


def run(args: argparse.Namespace) -> int:
    """Delete the runs (after confirmation unless ``--yes``); returns 0.

    Raises:
      CliError: an id is unknown, a run is still running, other runs depend on one (without
        ``--force``), or stdin is not a terminal and ``--yes`` was not given.
    """
    store = open_store(args)
    runs = [store.get_run(run_id) for run_id in dict.fromkeys(args.run_ids)]
    for record in runs:
        check_deletable(record)
    elsewhere = [open_children_store(where) for where in getattr(args, "children_in", [])]
    dependents = find_dependents(store, runs)
    if not args.force:
        check_no_children(store, runs, elsewhere)
        if dependents:
            raise CliError(refusal(dependents, [r.run_id for r in runs]))
    if not args.yes and not sys.stdin.isatty():
        ids = ", ".join(r.run_id for r in runs)
        raise CliError(
            f"stdin is not a terminal, so nobody can confirm: pass --yes to delete {ids}"
        )
    for record in runs:
        if not args.yes and not confirm(f"delete {describe(record)}?"):
            print(f"kept run {record.run_id}")
            continue
        deleted = delete_stored_run(store, record)
        print(f"deleted {describe(record)} from {store.description}: {deleted.removed}")
        for path in deleted.left:
            print(f"  left in place (outside the store): {path}")
        for line in left_broken(dependents.get(record.run_id, [])):
            print(f"  --force: {line}")
    return 0


def find_dependents(store: object, runs: list) -> dict[str, list[Dependent]]:
    """Return ``{run id: its dependents}`` for the runs to delete (runs deleted too don't count)."""
    doomed = {r.run_id for r in runs}
    others = [r for r in store.list_runs()[0] if r.run_id not in doomed]
    found = {r.run_id: dependents_of(r, others) for r in runs}
    return {run_id: deps for run_id, deps in found.items() if deps}


def refusal(dependents: dict[str, list[Dependent]], asked: list[str]) -> str:
    """The one line refusing to delete runs that others depend on, naming them and the ways out."""
    parts = [
        f"run {run_id} is used by {'; '.join(d.describe() for d in deps)}"
        for run_id, deps in dependents.items()
    ]
    with_them = dict.fromkeys(
        [*asked, *(d.run.run_id for deps in dependents.values() for d in deps)]
    )
    return (
        f"{'; '.join(parts)}: deleting would leave their records naming files that are gone. "
        f"Delete them too (reproml rm {' '.join(with_them)}) or pass --force"
    )
