"""`reproml launch --workers N [--ps M] [--evaluator] -- COMMAND ...`: a local TF_CONFIG cluster.

Runs COMMAND once per task on 127.0.0.1 with that task's ``TF_CONFIG`` (see
`reproml.cluster.launcher`), streams every task's output prefixed with its name, and stops all
tasks when one fails, on Ctrl-C, or after ``--timeout`` seconds. Exit code: 0 when the job
succeeded, else the failing task's code (130 on Ctrl-C, 124 on timeout).
"""

from __future__ import annotations

import argparse

from reproml.cluster.launcher import launch
from reproml.errors import CliError


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register `launch`."""
    parser = subparsers.add_parser(
        "launch",
        help="run a command as a local multi-worker TF_CONFIG cluster (development, tests)",
        description="Example: reproml launch --workers 2 -- python -m experiments.mnist with quick",
    )
    parser.add_argument(
        "--workers", type=int, default=2, help="trainers, the chief included (default: 2)"
    )
    parser.add_argument("--ps", type=int, default=0, help="parameter servers (default: 0)")
    parser.add_argument("--evaluator", action="store_true", help="also run an evaluator task")
    parser.add_argument("--timeout", type=float, default=None, help="stop every task after S s")
    parser.add_argument("--log-dir", default=None, help="also write LOG_DIR/<task>.log per task")
    parser.add_argument(
        "task_command", nargs=argparse.REMAINDER, metavar="COMMAND", help="-- COMMAND [ARGS...]"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Launch the job; return its exit code."""
    command = list(args.task_command)
    if command[:1] == ["--"]:
        command = command[1:]
    if not command:
        raise CliError("launch needs a command after --, e.g. -- python -m experiments.mnist")
    return launch(
        command,
        args.workers,
        args.ps,
        evaluator=args.evaluator,
        timeout=args.timeout,
        log_dir=args.log_dir,
    )
