"""MNIST as NumPy arrays: an explicit file, the cache, a verified download, or a stated fallback.

`load_mnist` looks for ``mnist.npz`` (the Keras layout: ``x_train`` uint8 [60000, 28, 28],
``y_train`` uint8 [60000], ``x_test``, ``y_test``) in this order::

    path (if given) -> cache_dir/mnist.npz -> download (sha256 checked before caching)
                    -> fallback: scikit-learn's bundled 8x8 digits upscaled to 28x28

It returns the arrays and a ``source`` dict saying which of those it used (name, file, sha256,
whether it is the canonical download, or the fallback and why), to be stored in the dataset
manifest via ``write_records(source=...)``. A local file is accepted for its layout, not its
bytes: one that is not the canonical download warns once (`MnistFileWarning`), and
``pin_sha256=`` requires exactly one file. The fallback is never silent: it warns
(`MnistFallbackWarning` and a log record) and the source dict names it. `mnist_rows` and
`mnist_keys_to_handlers` feed the arrays to `write_records`.
"""

from __future__ import annotations

import logging
import os
import re
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from reproml.errors import ChecksumMismatchError, ConfigError, DownloadError, RecordError
from reproml.records.download import default_cache_dir, download_verified
from reproml.records.file_hash import file_sha256
from reproml.records.sources import read_npz

logger = logging.getLogger(__name__)

MNIST_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz"
MNIST_SHA256 = "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"
MNIST_FILE = "mnist.npz"
MNIST_KEYS = ("x_train", "y_train", "x_test", "y_test")
MNIST_CLASS_NAMES = tuple(str(i) for i in range(10))
IMAGE_SHAPE = (28, 28)
FALLBACKS = ("digits", None)

# The digits fallback: a fixed permutation, then the first DIGITS_TEST_SIZE rows are the test split
# (300 of 1797, about MNIST's 1:6 test:train ratio).
DIGITS_SPLIT_SEED = 0
DIGITS_TEST_SIZE = 300


class MnistFallbackWarning(UserWarning):
    """`load_mnist` used the scikit-learn digits instead of MNIST."""


class MnistFileWarning(UserWarning):
    """`load_mnist` used a local MNIST file that is not the canonical Keras download."""


def load_mnist(
    path: str | os.PathLike | None = None,
    *,
    cache_dir: str | os.PathLike | None = None,
    url: str = MNIST_URL,
    sha256: str = MNIST_SHA256,
    pin_sha256: str | None = None,
    allow_download: bool = True,
    fallback: str | None = "digits",
    timeout: float = 30.0,
    progress: bool = True,
) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Load MNIST in the Keras layout, from a file, the cache, a download or the digits fallback.

    A local file (`path`, or a ``mnist.npz`` placed in the cache) is used when its layout is
    right (`read_keras_npz`), whatever its bytes: its sha256 is recorded in the source dict,
    and one that is not the canonical download (`sha256`) gets one `MnistFileWarning` (and a
    log record) naming the file and its hash. `pin_sha256` requires exactly one file. A
    download is strict: it is cached only if its sha256 is `sha256`.

    Args:
      path: an ``.npz`` file in the Keras layout; when given it must exist (no fallback).
      cache_dir: where ``mnist.npz`` is cached (default: `default_cache_dir()`).
      url: where to download ``mnist.npz`` from when it is not cached.
      sha256: the hex sha256 of the canonical file `url` serves. A download must match it;
        a local file that does not is used with a warning (``source["canonical"]`` is False).
      pin_sha256: the hex sha256 the loaded file must have (path, cache or download), e.g.
        the one a warning printed; a mismatch is a `RecordError`. With a pin, MNIST not being
        available is an error too (the digits fallback is never used) and a pinned
        non-canonical file is used without a warning.
      allow_download: False never touches the network (goes from the cache to the fallback).
      fallback: "digits" (scikit-learn's bundled digits, upscaled) when MNIST is neither cached
        nor downloadable, or None to raise instead.
      timeout: seconds before the download gives up.
      progress: show a tqdm progress bar while downloading.

    Returns:
      ``(arrays, source)``: arrays ``x_train`` uint8 [N, 28, 28], ``y_train`` [N] (integer
      labels 0..9), ``x_test``, ``y_test``; source e.g. ``{"name": "mnist", "path": ...,
      "sha256": ..., "canonical": True, "how": "cache"}`` or ``{"name": "sklearn-digits",
      "reason": ..., ...}``.

    Raises:
      RecordError: `path` is missing, a file's layout is wrong (names the array), a file does
        not match `pin_sha256`, or MNIST is not available and `fallback` is None or a pin is set.
      ChecksumMismatchError: a downloaded file does not match `sha256` (nothing is cached).
      DownloadError: the download failed and `fallback` is None (or a pin is set).
      ConfigError: `fallback` is not one of ``"digits"``, None, or a hash is not 64 hex digits.
    """
    if fallback not in FALLBACKS:
        raise ConfigError("fallback", f"one of {FALLBACKS}", fallback)
    sha256 = _checked_sha256("sha256", sha256)
    pin = None if pin_sha256 is None else _checked_sha256("pin_sha256", pin_sha256)
    if path is not None:
        return _load_local(Path(path).expanduser(), sha256, pin, how="path", url=None)

    cached = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    cached = cached / MNIST_FILE
    if cached.is_file():
        return _load_local(cached, sha256, pin, how="cache", url=url)

    if allow_download:
        try:
            download_verified(url, cached, sha256, timeout=timeout, progress=progress)
        except ChecksumMismatchError:
            raise
        except DownloadError as err:
            if fallback is None or pin is not None:
                raise
            reason = f"download of {url} failed: {err.problem}"
        else:
            return _load_local(cached, sha256, pin, how="download", url=url)
    else:
        reason = f"{cached} is not cached and allow_download=False"

    if fallback is None or pin is not None:
        fix = f"Put {MNIST_FILE} there, pass path=..., or allow the download"
        if pin is None:
            fix += ", or use fallback='digits'"
        else:
            fix += " (pin_sha256 is set, so the digits fallback is not used)"
        raise RecordError(cached, f"MNIST is not available ({reason})", fix)
    return load_digits_as_mnist(reason, stacklevel=3)


def _checked_sha256(entry: str, value: object) -> str:
    if not isinstance(value, str) or not re.fullmatch(r"[0-9a-fA-F]{64}", value):
        raise ConfigError(entry, "a sha256 of 64 hex digits", value)
    return value.lower()


def _load_local(
    path: Path, sha256: str, pin: str | None, *, how: str, url: str | None
) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Load an npz in the Keras MNIST layout, record its hash, and warn if it is not canonical."""
    if not path.is_file():
        raise RecordError(
            path, "does not exist", f"Pass the path of a {MNIST_FILE} in the Keras layout"
        )
    _, actual = file_sha256(path)
    if pin is not None and actual != pin:
        raise RecordError(
            path,
            f"has sha256 {actual}, but pin_sha256 is {pin}",
            f"Restore the pinned file, or pin this one with pin_sha256={actual!r}",
        )
    arrays = read_keras_npz(path)
    canonical = actual == sha256
    if not canonical and pin is None:
        message = (
            f"{path} is not the canonical Keras {MNIST_FILE} (its sha256 is {actual}, the "
            f"canonical one is {sha256}); it is used because its layout is right, and its "
            f"sha256 is recorded in the source. To require exactly this file, pass "
            f"pin_sha256={actual!r}"
        )
        warnings.warn(message, MnistFileWarning, stacklevel=3)
        logger.warning(message)
    source: dict[str, Any] = {
        "name": "mnist",
        "path": str(path),
        "sha256": actual,
        "canonical": canonical,
        "how": how,
    }
    if url is not None and how == "download":
        source["url"] = url
    return arrays, source


def read_keras_npz(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Read and check an npz in the Keras MNIST layout (``x_train, y_train, x_test, y_test``).

    ``x_*`` must be uint8 [N, 28, 28] with N >= 1 and ``y_*`` integer labels in 0..9 of shape
    [N]. The file is read with `reproml.records.sources.read_npz` (``allow_pickle=False``).

    Raises:
      RecordError: naming the file and the array: the file is not an npz, an array is missing,
        or a shape, dtype or label is wrong.
    """
    arrays = read_npz(path, MNIST_KEYS)
    fix = (
        "Give an .npz in the Keras MNIST layout: x_train/x_test uint8 [N, 28, 28], "
        "y_train/y_test integer labels 0..9 [N]"
    )
    for split in ("train", "test"):
        x, y = arrays[f"x_{split}"], arrays[f"y_{split}"]
        if x.ndim != 3 or x.shape[1:] != IMAGE_SHAPE or x.dtype != np.uint8 or not len(x):
            raise RecordError(
                path, f"x_{split} is {x.dtype} {x.shape}, expected uint8 [N, 28, 28]", fix
            )
        if y.shape != (x.shape[0],) or y.dtype.kind not in "iu":
            raise RecordError(
                path, f"y_{split} is {y.dtype} {y.shape}, expected integers [{x.shape[0]}]", fix
            )
        if y.min() < 0 or y.max() >= len(MNIST_CLASS_NAMES):
            raise RecordError(
                path, f"y_{split} has labels {y.min()}..{y.max()}, expected labels in 0..9", fix
            )
    return arrays


def load_digits_as_mnist(
    reason: str, stacklevel: int = 2
) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Return scikit-learn's bundled digits in the MNIST layout, with a warning naming `reason`.

    The 1797 8x8 images (values 0..16) are upscaled to 28x28 with `scipy.ndimage.zoom`
    (bilinear), scaled to uint8 0..255, and split by a fixed permutation into
    1497 train / 300 test rows, so every run gets the same arrays.

    Args:
      reason: why MNIST itself was not used; in the warning and in the source dict.
      stacklevel: the caller the warning points at (as in `warnings.warn`).

    Returns:
      ``(arrays, source)`` as `load_mnist`, with ``source["name"] == "sklearn-digits"``.
    """
    import scipy
    import sklearn
    from scipy import ndimage
    from sklearn.datasets import load_digits

    message = f"MNIST is not available ({reason}); using scikit-learn's digits upscaled to 28x28"
    warnings.warn(message, MnistFallbackWarning, stacklevel=stacklevel)
    logger.warning(message)

    digits = load_digits()
    zoom = IMAGE_SHAPE[0] / digits.images.shape[1]
    images = ndimage.zoom(digits.images.astype(np.float64), (1, zoom, zoom), order=1)
    images = np.clip(np.rint(images * (255.0 / 16.0)), 0, 255).astype(np.uint8)
    labels = digits.target.astype(np.uint8)
    order = np.random.default_rng(DIGITS_SPLIT_SEED).permutation(len(labels))
    test, train = order[:DIGITS_TEST_SIZE], order[DIGITS_TEST_SIZE:]
    arrays = {
        "x_train": images[train],
        "y_train": labels[train],
        "x_test": images[test],
        "y_test": labels[test],
    }
    source = {
        "name": "sklearn-digits",
        "reason": reason,
        "upscaled": "8x8 -> 28x28 scipy.ndimage.zoom(order=1), 0..16 -> uint8 0..255",
        "split": f"permutation seed {DIGITS_SPLIT_SEED}, first {DIGITS_TEST_SIZE} rows are test",
        "sklearn_version": sklearn.__version__,
        "scipy_version": scipy.__version__,
    }
    return arrays, source


def mnist_split_sizes(arrays: dict[str, np.ndarray]) -> dict[str, int]:
    """Return ``{"train": N_train, "test": N_test}`` for `write_records(split_to_size=...)`."""
    return {split: int(len(arrays[f"y_{split}"])) for split in ("train", "test")}


def mnist_rows(arrays: dict[str, np.ndarray], split: str) -> Iterator[dict[str, Any]]:
    """Yield ``{"image": uint8 [28, 28, 1], "label": int}`` rows of a split, for `write_records`.

    Args:
      arrays: the arrays returned by `load_mnist`.
      split: "train" or "test".

    Raises:
      ConfigError: `split` is not "train" or "test".
    """
    if split not in ("train", "test"):
        raise ConfigError("split", "'train' or 'test' (the splits of MNIST)", split)
    images, labels = arrays[f"x_{split}"], arrays[f"y_{split}"]
    for image, label in zip(images, labels, strict=True):
        yield {"image": image[..., np.newaxis], "label": int(label)}


def mnist_keys_to_handlers() -> dict[str, Any]:
    """Return the handlers of `mnist_rows`: image uint8 [28, 28, 1], label named "0".."9"."""
    from handlers.image import ImageArrayHandler
    from handlers.label import ClassLabelHandler

    return {
        "image": ImageArrayHandler(shape=(*IMAGE_SHAPE, 1)),
        "label": ClassLabelHandler(names=MNIST_CLASS_NAMES),
    }
