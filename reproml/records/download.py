"""A verified, atomic download: the bytes are kept only when their sha256 is the expected one.

Used for MNIST (`reproml.datasets.mnist`) and for a backbone's weights file
(`reproml.tracking.backbone_weights`); files are cached under `default_cache_dir`.
"""

from __future__ import annotations

import hashlib
import os
import urllib.error
import urllib.request
from pathlib import Path

from reproml.errors import ChecksumMismatchError, DownloadError
from reproml.records.atomic_write import atomic_output

_CHUNK = 1 << 16


def default_cache_dir() -> Path:
    """Return ``$REPROML_DATA_DIR`` if set, else ``~/.cache/reproml``."""
    return Path(os.environ.get("REPROML_DATA_DIR") or "~/.cache/reproml").expanduser()


def download_verified(
    url: str,
    target: str | os.PathLike,
    sha256: str,
    *,
    timeout: float = 30.0,
    progress: bool = True,
) -> str:
    """Download `url` to `target`, committed (atomic rename) only if its sha256 is `sha256`.

    The bytes stream into a temp file next to `target` (`atomic_output`) while they are
    hashed; on any error or a hash mismatch the temp file is removed and `target` is untouched.

    Args:
      url: the file to fetch.
      target: the final path; its directory is created if needed.
      sha256: the expected hex sha256.
      timeout: seconds for the connection and each read.
      progress: show a tqdm progress bar.

    Returns:
      The sha256 of the downloaded file.

    Raises:
      DownloadError: the download failed (names the url and the cause).
      ChecksumMismatchError: its sha256 differs from `sha256` (names the url and both hashes;
        nothing is written to `target`).
    """
    from tqdm import tqdm

    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    try:
        with (
            atomic_output(target) as f,
            urllib.request.urlopen(url, timeout=timeout) as response,
            tqdm(
                total=int(response.headers.get("Content-Length") or 0) or None,
                unit="B",
                unit_scale=True,
                desc=target.name,
                disable=not progress,
            ) as bar,
        ):
            for chunk in iter(lambda: response.read(_CHUNK), b""):
                f.write(chunk)
                digest.update(chunk)
                bar.update(len(chunk))
            actual = digest.hexdigest()
            if actual != sha256.lower():
                raise ChecksumMismatchError(
                    url,
                    f"has sha256 {actual}, expected {sha256}",
                    f"Nothing was cached in {target.parent}; check the url, or pass the right "
                    "sha256",
                )
    except (urllib.error.URLError, OSError, ValueError) as err:
        raise DownloadError(
            url,
            f"could not be downloaded ({type(err).__name__}: {err})",
            "Check the url and the network, or pass path=...",
        ) from err
    return actual
