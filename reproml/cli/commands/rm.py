"""`reproml rm RUN [RUN ...]`: delete runs with their artifacts, on either store, asking first.

    reproml rm 12                 # delete run 12 (mnist, COMPLETED, 2026-11-21 11:25:17)? [y/N]
    reproml rm 12 13 --yes        # no question (scripts)
    reproml --mongo URL rm 12     # the same in MongoDB
    reproml rm 12 --force         # even though run 13 resumed from run 12's model dir

Every id is looked up before anything is deleted (an unknown id deletes nothing). A run whose
model dir, checkpoints or export another run uses (`reproml.runs.dependents`: resumed from it,
evaluated or exported its model, shares its model_dir) is refused naming those runs, unless they
are deleted with it or ``--force`` is given (then each directory they name is reported as gone
or left in place). Without
``--yes`` each run is confirmed on the terminal; when stdin is not a terminal the command refuses
in one line instead of guessing. A warm-start parent (``init_from``) is not deleted while its
children stay: the refusal names them. What goes and what stays: `reproml.runs.delete`.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from reproml.errors import CliError
from reproml.runs.delete import check_deletable, delete_stored_run, describe
from reproml.runs.dependents import Dependent, dependents_of, left_broken
from reproml.runs.lineage import children_of
from reproml.runs.record import RunRecord
from reproml.runs.stores import list_runs_warning, open_store


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
    parser.set_defaults(func=run)


def confirm(question: str) -> bool:
    """Ask `question` on stderr, read one answer from stdin; only y/yes says yes (EOF: no)."""
    print(f"{question} [y/N] ", end="", file=sys.stderr, flush=True)
    answer = sys.stdin.readline()
    return answer.strip().lower() in ("y", "yes")


def check_no_children(store: Any, runs: list[RunRecord]) -> None:
    """Refuse to delete a warm-start parent whose children stay (they need its checkpoint).

    Raises:
      CliError: naming the parent and its children that are not deleted with it.
    """
    deleted = {r.run_id for r in runs}
    everything = list_runs_warning(store)
    for record in runs:
        children = [c for c in children_of(everything, record.run_id) if c not in deleted]
        if children:
            raise CliError(
                f"run {record.run_id} is the warm-start parent (init_from) of run(s) "
                f"{', '.join(children)}, which need its checkpoint to be reproduced: delete "
                "them too (list them in the same rm) or keep it"
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
    dependents = find_dependents(store, runs)
    if not args.force:
        check_no_children(store, runs)
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
