"""Team keys for run seals: Ed25519 key pairs (``cryptography``), signing and checking a digest.

A seal (`reproml.runs.seal`) is a sha256 digest over a run's record. Anyone can recompute a
digest, so a record edited and re-sealed looks whole; a signature made with the team's private
key cannot be recomputed without that key. The private key signs seals when
``$REPROML_SIGNING_KEY`` names its file (PEM, PKCS8, unencrypted: keep it readable by you only);
whoever holds the public key (``--public-key FILE`` or ``$REPROML_TRUSTED_KEY``) refuses a seal
that is unsigned or signed by another key.

What is signed is ``reproml-seal-v1:<digest>`` (the digest covers everything sealed).
"""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from reproml.errors import SigningKeyError
from reproml.errors import ReproMLError

SIGNING_KEY_ENV = "REPROML_SIGNING_KEY"
TRUSTED_KEY_ENV = "REPROML_TRUSTED_KEY"
ALGORITHM = "ed25519"
PRIVATE_NAME = "reproml-signing.key"
PUBLIC_NAME = "reproml-signing.pub"


def _payload(digest: str) -> bytes:
    return f"reproml-seal-v1:{digest}".encode()


def key_id(public_key: Ed25519PublicKey) -> str:
    """Return a short name of `public_key`: the first 16 hex digits of the sha256 of its bytes."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def new_key_pair(out_dir: str | os.PathLike) -> tuple[Path, Path]:
    """Write a new key pair to `out_dir`; return (private key file, public key file).

    The private key file is created with mode 0600.

    Raises:
      SigningKeyError: a key file already exists there (never overwritten).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    private_path, public_path = out / PRIVATE_NAME, out / PUBLIC_NAME
    for path in (private_path, public_path):
        if path.exists():
            raise SigningKeyError(f"{path} already exists; choose another --out directory")
    private = Ed25519PrivateKey.generate()
    private_pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public_pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(private_pem)
    public_path.write_bytes(public_pem)
    return private_path, public_path


def _read(path: str | os.PathLike, what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as err:
        raise SigningKeyError(f"{what} {path}: cannot be read ({err.strerror or err})") from None


def load_private_key(path: str | os.PathLike) -> Ed25519PrivateKey:
    """Return the Ed25519 private key in PEM file `path`.

    Raises:
      SigningKeyError: the file cannot be read or holds no unencrypted Ed25519 private key.
    """
    data = _read(path, "signing key")
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as err:
        raise SigningKeyError(
            f"signing key {path}: not an unencrypted PEM private key ({err}); make one with "
            "`reproml keys new --out DIR`"
        ) from None
    if not isinstance(key, Ed25519PrivateKey):
        raise SigningKeyError(
            f"signing key {path}: a {type(key).__name__}, expected an Ed25519 key"
        )
    return key


def load_public_key(path: str | os.PathLike) -> Ed25519PublicKey:
    """Return the Ed25519 public key in PEM file `path`.

    Raises:
      SigningKeyError: the file cannot be read or holds no Ed25519 public key.
    """
    data = _read(path, "public key")
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError) as err:
        raise SigningKeyError(f"public key {path}: not a PEM public key ({err})") from None
    if not isinstance(key, Ed25519PublicKey):
        raise SigningKeyError(f"public key {path}: a {type(key).__name__}, expected an Ed25519 key")
    return key


def signing_key_from_env() -> Ed25519PrivateKey | None:
    """Return the private key named by ``$REPROML_SIGNING_KEY``, or None when it is not set.

    Raises:
      SigningKeyError: the variable names a file that is not a usable key.
    """
    path = os.environ.get(SIGNING_KEY_ENV)
    return load_private_key(path) if path else None


def trusted_key(path: str | os.PathLike | None) -> Ed25519PublicKey | None:
    """Return the public key in `path`, else the one named by ``$REPROML_TRUSTED_KEY``, or None.

    Raises:
      SigningKeyError: the file is not a usable public key.
    """
    path = path or os.environ.get(TRUSTED_KEY_ENV)
    return load_public_key(path) if path else None


def sign(private_key: Ed25519PrivateKey, digest: str) -> dict[str, str]:
    """Return the ``signature`` entry of a seal: algorithm, key id and base64 signature."""
    return {
        "algorithm": ALGORITHM,
        "key_id": key_id(private_key.public_key()),
        "value": base64.b64encode(private_key.sign(_payload(digest))).decode("ascii"),
    }


def signature_problem(seal: dict[str, Any], public_key: Ed25519PublicKey) -> str | None:
    """Return why the seal's signature is not a valid one by `public_key` (None: it is)."""
    signature = seal.get("signature")
    if not isinstance(signature, dict):
        return "the seal is not signed, and a trusted key was given"
    expected = key_id(public_key)
    if signature.get("algorithm") != ALGORITHM:
        return f"the seal's signature uses {signature.get('algorithm')!r}, expected {ALGORITHM}"
    try:
        value = base64.b64decode(str(signature.get("value", "")), validate=True)
        public_key.verify(value, _payload(str(seal.get("digest"))))
    except (InvalidSignature, ValueError):
        return (
            f"the seal's signature (key {signature.get('key_id')}) does not verify with the "
            f"trusted key {expected}"
        )
    return None
