"""`reproml board`: open the runs in a browser dashboard (Omniboard); Ctrl-C stops everything.

    reproml board                      # the file store runs/: a private database + Omniboard
    reproml --store DIR board          # another file store
    reproml --mongo URL board          # runs already in MongoDB (or $REPROML_MONGO_URL)
    reproml board --port 9000 --open   # a fixed port; open the default browser
    reproml board --install            # install Omniboard (npm ci, cached) and exit
    reproml board --install --sacredboard   # install Sacredboard (its own venv, cached)

See docs/reviewing.md and `reproml.board`.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
import webbrowser

from reproml.board.omniboard import ensure_omniboard, install_dir
from reproml.board.sacredboard import ensure_sacredboard
from reproml.board.session import start_board
from reproml.errors import BoardError
from reproml.runs.mongo import URL_ENV, target_from_url
from reproml.runs.stores import DEFAULT_STORE


class _Stop(Exception):
    """SIGTERM or SIGHUP arrived: stop as on Ctrl-C."""


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register `board`."""
    parser = subparsers.add_parser("board", help="review the runs in a browser (Omniboard)")
    parser.add_argument(
        "--port", type=int, default=None, help="port on 127.0.0.1 (default: a free one)"
    )
    parser.add_argument("--open", action="store_true", help="open the default web browser")
    parser.add_argument(
        "--sacredboard",
        action="store_true",
        help="Sacredboard 0.4.2 instead of Omniboard (see docs/reviewing.md)",
    )
    parser.add_argument(
        "--install",
        action="store_true",
        help="install Omniboard (npm ci, cached), or Sacredboard with --sacredboard, and exit",
    )
    parser.set_defaults(func=run)


def _raise_stop(signum: int, frame: object) -> None:
    raise _Stop(signal.Signals(signum).name)


def run(args: argparse.Namespace) -> int:
    """Start the dashboard, print its URL, serve until Ctrl-C/SIGTERM; returns 0."""
    if args.install and args.sacredboard:
        print(f"Sacredboard {ensure_sacredboard(say=_say).parent.parent} is installed")
        return 0
    if args.install:
        ensure_omniboard(say=_say)
        print(f"Omniboard {install_dir()} is installed")
        return 0
    url = getattr(args, "mongo", None) or os.environ.get(URL_ENV)
    source = "--mongo" if getattr(args, "mongo", None) else URL_ENV
    target = target_from_url(url, source) if url else None
    store = args.store or DEFAULT_STORE
    stop_signals = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    previous = {s: signal.getsignal(s) for s in stop_signals}
    for sig in (signal.SIGTERM, signal.SIGHUP):  # Ctrl-C stays KeyboardInterrupt
        signal.signal(sig, _raise_stop)
    board = None
    try:
        board = start_board(store, target, args.port, args.sacredboard, say=_say)
        name = "Sacredboard" if args.sacredboard else "Omniboard"
        print(f"{name} on {board.database}: {board.url}  (Ctrl-C stops it)", flush=True)
        if args.open:
            webbrowser.open(board.url)
        while (dead := board.dead_child()) is None:
            time.sleep(0.5)
        raise BoardError(
            f"{dead.name} stopped (exit code {dead.proc.returncode}): {dead.last_line()} "
            f"(log: {dead.log_path})"
        )
    except (KeyboardInterrupt, _Stop):
        print("stopping ...", file=sys.stderr, flush=True)
        return 0
    finally:
        for sig in stop_signals:  # a second Ctrl-C must not cut the stop short
            signal.signal(sig, signal.SIG_IGN)
        if board is not None:
            board.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)
