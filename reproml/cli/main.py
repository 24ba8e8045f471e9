"""`reproml` entry point: global options, subcommands, and one-line errors (never a traceback).

Exit codes: 0 success; 1 the command ran and found a difference (``verify``, ``reproduce``);
2 the command could not run (unknown run, empty store, unreachable MongoDB, corrupt run, ...).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from reproml.cli.commands import (
    archive,
    board,
    compare,
    keys,
    launch,
    leaderboard,
    push,
    reproduce,
    rm,
    runs,
    show,
    sweep,
    tag,
    verify,
)
from reproml.errors import ReproMLError
from reproml.runs.stores import DEFAULT_STORE, MONGO_URL_ENV

COMMANDS = (
    runs,
    show,
    leaderboard,
    compare,
    verify,
    push,
    reproduce,
    board,
    launch,
    sweep,
    tag,
    rm,
    archive,
    keys,
)
EXIT_ERROR = 2


def build_parser() -> argparse.ArgumentParser:
    """Return the parser of every subcommand and the global options."""
    parser = argparse.ArgumentParser(
        prog="reproml", description="Inspect, compare, verify, push and reproduce Sacred runs."
    )
    parser.add_argument(
        "--store", default=DEFAULT_STORE, help="FileStorageObserver directory (default: runs/)"
    )
    parser.add_argument(
        "--mongo",
        default=None,
        help=f"MongoDB URL, e.g. mongodb://localhost:27017/reproml (default: ${MONGO_URL_ENV})",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``reproml ARGV`` and return the exit code."""
    # TensorFlow (imported by verify and reproduce only) logs plugin-registration noise at
    # ERROR level on CPU machines; a user's own setting wins.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except BrokenPipeError:  # `reproml show 1 | head`: stop quietly, as Python's docs advise
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except (ReproMLError, OSError) as err:
        return _error(args.command, str(err))
    except _pymongo_errors() as err:
        return _error(args.command, f"MongoDB: {err}")


def _error(command: str, message: str) -> int:
    one_line = " ".join(message.split())
    print(f"reproml {command}: error: {one_line}", file=sys.stderr)
    return EXIT_ERROR


def _pymongo_errors() -> type[BaseException]:
    from pymongo.errors import PyMongoError

    return PyMongoError


if __name__ == "__main__":
    sys.exit(main())
