"""`reproml keys new --out DIR`: make the team's Ed25519 key pair that signs run seals.

Writes ``reproml-signing.key`` (private, mode 0600: set ``$REPROML_SIGNING_KEY`` to it where runs
are recorded) and ``reproml-signing.pub`` (public: give it to whoever checks runs, as
``--public-key`` or ``$REPROML_TRUSTED_KEY``). Never overwrites a key. See docs/guarantees.md.
"""

from __future__ import annotations

import argparse

from reproml.runs.signing import (
    SIGNING_KEY_ENV,
    TRUSTED_KEY_ENV,
    key_id,
    load_public_key,
    new_key_pair,
)


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register `keys`."""
    parser = subparsers.add_parser("keys", help="make the key pair that signs run seals")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    new = actions.add_parser("new", help="write a new Ed25519 key pair to --out DIR")
    new.add_argument("--out", required=True, help="directory for the two key files")
    new.set_defaults(func=run_new)


def run_new(args: argparse.Namespace) -> int:
    """Write a new key pair; print where, its key id and how to use it; return 0."""
    private_path, public_path = new_key_pair(args.out)
    print(f"private key {private_path} (keep it secret; runs sign with it)")
    print(f"public key  {public_path} (key id {key_id(load_public_key(public_path))})")
    print(f"sign:   export {SIGNING_KEY_ENV}={private_path}")
    print(f"check:  reproml verify RUN --public-key {public_path}  (or ${TRUSTED_KEY_ENV})")
    return 0
