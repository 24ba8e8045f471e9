"""Row sources for `write_records`: NumPy ``.npz`` (Keras layout), HDF5 and image folders.

Each ``rows_from_*`` function checks its input up front (errors name the file, array, dataset
or folder) and returns a `RowSource`: the ``rows_gen`` and ``split_to_size`` that
`write_records` takes, and a ``source`` dict for the manifest saying where the rows came from::

    src = rows_from_hdf5("data.h5", {"train": {"image": "train/x", "label": "train/y"}})
    write_records(record_dir, "{split}-{idx:05d}.tfrecord", handlers, 1000,
                  src.split_to_size, src.rows_gen, source=src.source)

`serialize_npz` does both steps for an ``.npz`` file, as in the original framework.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import zipfile
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from reproml.checks import int_at_least
from reproml.errors import ConfigError, RecordError
from reproml.records.file_hash import file_sha256
from reproml.records.handler import FeatureHandler
from reproml.records.manifest import Manifest
from reproml.records.source_fingerprint import (
    CONTENT_KEY,
    FILE_HASHES_KEY,
    FINGERPRINT_METHOD,
    IMAGE_EXTENSIONS,
    cached_file_sha256,
    content_sha256,
)
from reproml.records.writer import write_records

DEFAULT_PATTERN = "{split}-{idx:05d}.tfrecord"


@dataclasses.dataclass(frozen=True)
class RowSource:
    """Rows of a dataset, ready for `write_records`.

    Attributes:
      rows_gen: ``rows_gen(split)`` yields the rows (dicts) of a split, in a fixed order.
      split_to_size: number of rows of each split.
      source: JSON-serializable description of the input (file, sha256, layout) for the manifest.
      class_names: the class names of an image folder (sorted), else None.
      labels: ``labels(split)`` returns the label of every row of a split, in row order,
        without reading the rows (`reproml.records.subset.limit_examples` stratifies by it);
        None when the source has no label.
    """

    rows_gen: Callable[[str], Iterator[dict[str, Any]]]
    split_to_size: dict[str, int]
    source: dict[str, Any]
    class_names: tuple[str, ...] | None = None
    labels: Callable[[str], Sequence[Any]] | None = None


# ---------------------------------------------------------------------------------------------
# NumPy .npz in the Keras layout.


def rows_from_npz(
    npz_file: str | os.PathLike,
    key: str = "image",
    *,
    label_key: str = "label",
    eval_size: int | float = 0.1,
    eval_seed: int | None = None,
) -> RowSource:
    """Read an ``.npz`` in the Keras layout into train / eval / test rows.

    The file holds ``x_train, y_train, x_test, y_test`` (and optionally ``x_eval, y_eval``).
    Row ``i`` of a split is ``{key: x[i], label_key: y[i]}`` (a ``y`` of shape [N, 1] is
    flattened). It is loaded with ``allow_pickle=False``; every array is read into memory.

    The eval split: ``x_eval``/``y_eval`` when the file has them, else carved from the train
    arrays: ``eval_size`` rows (an int, or a float fraction rounded down). With
    ``eval_seed=None`` these are the *last* rows of train (fine for shuffled data such as MNIST;
    for data sorted by class pass a seed); with a seed, the rows chosen by
    ``np.random.default_rng(eval_seed).permutation``. Both splits keep the file's row order.

    Raises:
      RecordError: the file is unreadable, holds pickled objects (names the array), lacks an
        array, has only one of x_eval/y_eval, or has arrays of different lengths.
      ConfigError: `eval_size` does not leave at least one train row.
    """
    path = Path(npz_file)
    has_eval, arrays = _load_npz(path)
    n_train = len(arrays["x_train"])
    if has_eval:
        eval_rule = "x_eval/y_eval of the file"
        x_eval, y_eval = arrays["x_eval"], arrays["y_eval"]
        x_train, y_train = arrays["x_train"], arrays["y_train"]
    else:
        n_eval = _eval_count(eval_size, n_train)
        if eval_seed is None:
            eval_idx = np.arange(n_train - n_eval, n_train)
            eval_rule = f"last {n_eval} of {n_train} train rows"
        else:
            chosen = np.random.default_rng(eval_seed).permutation(n_train)[:n_eval]
            eval_idx = np.sort(chosen)
            eval_rule = f"{n_eval} of {n_train} train rows by np.random.default_rng({eval_seed})"
        keep = np.ones(n_train, dtype=bool)
        keep[eval_idx] = False
        x_eval, y_eval = arrays["x_train"][eval_idx], arrays["y_train"][eval_idx]
        x_train, y_train = arrays["x_train"][keep], arrays["y_train"][keep]
    by_split = {
        "train": (x_train, y_train),
        "eval": (x_eval, y_eval),
        "test": (arrays["x_test"], arrays["y_test"]),
    }

    def rows_gen(split: str) -> Iterator[dict[str, Any]]:
        if split not in by_split:
            raise ConfigError("split", f"one of {list(by_split)}", split)
        xs, ys = by_split[split]
        for x, y in zip(xs, ys, strict=True):
            yield {key: x, label_key: y.item() if np.ndim(y) == 0 else y}

    size, sha = file_sha256(path)
    source = {
        "type": "npz",
        "file": str(path.resolve()),
        "bytes": size,
        "sha256": sha,
        "arrays": {k: {"dtype": str(v.dtype), "shape": list(v.shape)} for k, v in arrays.items()},
        "rows": {key: "x_<split>", label_key: "y_<split>"},
        "eval": eval_rule,
    }
    sizes = {split: len(xs) for split, (xs, _ys) in by_split.items()}

    def labels(split: str) -> list[Any]:
        if split not in by_split:
            raise ConfigError("split", f"one of {list(by_split)}", split)
        return by_split[split][1].tolist()

    return RowSource(rows_gen, sizes, source, labels=labels)


def serialize_npz(
    npz_file: str | os.PathLike,
    key: str,
    record_dir: str | os.PathLike,
    keys_to_handlers: Mapping[str, FeatureHandler],
    *,
    label_key: str = "label",
    eval_size: int | float = 0.1,
    eval_seed: int | None = None,
    record_pattern: str = DEFAULT_PATTERN,
    samples_per_record: int = 1000,
    keys_to_descriptions: Mapping[str, str] | None = None,
    compression: str | None = None,
    num_workers: int | None = None,
    progress: bool = True,
) -> Manifest:
    """Serialize an ``.npz`` in the Keras layout to sharded TFRecords (see `rows_from_npz`).

    Args:
      npz_file: the ``.npz`` file (``x_train, y_train, x_test, y_test``).
      key: the row key of the ``x`` arrays (e.g. "image"); labels go under `label_key`.
      record_dir: where `write_records` writes the shards and the manifest.
      keys_to_handlers: handlers of the keys to store (usually `key` and `label_key`).
      label_key: the row key of the ``y`` arrays.
      eval_size: rows (int) or fraction (float) of train carved out as the eval split.
      eval_seed: None: the last train rows are eval; int: a seeded choice of rows.
      record_pattern: shard name pattern with ``{split}`` and ``{idx}``.
      samples_per_record: examples per shard.
      keys_to_descriptions: free text per key for the manifest.
      compression: None, "GZIP" or "ZLIB".
      num_workers: worker processes of `write_records`.
      progress: show a progress bar.

    Returns:
      The manifest written to ``record_dir/manifest.json`` (its source names the npz and sha256).
    """
    src = rows_from_npz(
        npz_file, key, label_key=label_key, eval_size=eval_size, eval_seed=eval_seed
    )
    return write_records(
        record_dir,
        record_pattern,
        keys_to_handlers,
        samples_per_record,
        src.split_to_size,
        src.rows_gen,
        keys_to_descriptions=keys_to_descriptions,
        compression=compression,
        num_workers=num_workers,
        source=src.source,
        progress=progress,
    )


KERAS_NPZ_ARRAYS = ("x_train", "y_train", "x_test", "y_test")


def read_npz(
    npz_file: str | os.PathLike, names: Sequence[str], optional: Sequence[str] = ()
) -> dict[str, np.ndarray]:
    """Read named arrays of an ``.npz`` into memory, never unpickling anything.

    The one ``.npz`` reader of reproml (`rows_from_npz` and `reproml.datasets.mnist` use it).
    It loads with ``allow_pickle=False``; it checks which arrays exist, not their shapes.

    Args:
      npz_file: the ``.npz`` file.
      names: arrays the file must hold.
      optional: arrays read only if the file holds them.

    Returns:
      ``{name: array}`` for `names` and the `optional` arrays present, in that order.

    Raises:
      RecordError: naming the file, and the array where one is at fault: the file is missing,
        is a pickle or not an ``.npz``, lacks one of `names`, or an array holds pickled objects
        (dtype=object) or cannot be read.
    """
    path = Path(npz_file)
    fix = f"Save it with np.savez({', '.join(f'{name}=...' for name in names)})"
    try:
        data = np.load(path, allow_pickle=False)
    except FileNotFoundError as err:
        raise RecordError(path, "does not exist", "Give the path of an .npz file") from err
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as err:
        problem = f"is not a readable .npz ({type(err).__name__}: {err})"
        if "pickle" in str(err):
            problem = "is a pickle, not an .npz (reproml never loads pickles: allow_pickle=False)"
        raise RecordError(path, problem, fix) from err
    if not isinstance(data, np.lib.npyio.NpzFile):
        raise RecordError(path, f"holds one array of shape {data.shape}, not an .npz archive", fix)
    with data:
        missing = [name for name in names if name not in data.files]
        if missing:
            raise RecordError(path, f"has no arrays {missing} (it has {sorted(data.files)})", fix)
        arrays = {}
        for name in [*names, *(name for name in optional if name in data.files)]:
            try:
                arrays[name] = np.asarray(data[name])
            except ValueError as err:
                if "pickle" not in str(err):
                    raise RecordError(path, f"array {name!r} is unreadable ({err})", fix) from err
                raise RecordError(
                    path,
                    f"array {name!r} holds pickled Python objects (dtype=object)",
                    "Save it with a numeric or string dtype; reproml loads .npz files with "
                    "allow_pickle=False",
                ) from err
            except (OSError, zipfile.BadZipFile, zlib.error, EOFError) as err:
                raise RecordError(
                    path, f"array {name!r} is unreadable ({type(err).__name__}: {err})", fix
                ) from err
    return arrays


def _load_npz(path: Path) -> tuple[bool, dict[str, np.ndarray]]:
    """Read an npz in the Keras layout (x/y train, test and optional eval) for `rows_from_npz`."""
    arrays = read_npz(path, KERAS_NPZ_ARRAYS, optional=("x_eval", "y_eval"))
    if ("x_eval" in arrays) != ("y_eval" in arrays):
        has, lacks = ("x_eval", "y_eval") if "x_eval" in arrays else ("y_eval", "x_eval")
        raise RecordError(
            path,
            f"has {has} but no {lacks}",
            "Save both x_eval and y_eval, or neither (eval is then carved from train)",
        )
    has_eval = "x_eval" in arrays
    for split in ("train", "test", "eval") if has_eval else ("train", "test"):
        x, y = arrays[f"x_{split}"], arrays[f"y_{split}"]
        if y.ndim == 2 and y.shape[1] == 1:
            arrays[f"y_{split}"] = y = y.reshape(-1)
        if x.ndim == 0 or y.ndim == 0 or len(x) != len(y):
            raise RecordError(
                path,
                f"x_{split} has shape {x.shape} and y_{split} has shape {y.shape}",
                f"Give one label per row: len(x_{split}) == len(y_{split})",
            )
    return has_eval, arrays


def _eval_count(eval_size: int | float, n_train: int) -> int:
    if isinstance(eval_size, bool) or not isinstance(eval_size, int | float):
        raise ConfigError("eval_size", "an int of rows or a float fraction", eval_size)
    n_eval = int(eval_size * n_train) if isinstance(eval_size, float) else eval_size
    if not 0 <= n_eval < n_train:
        raise ConfigError(
            "eval_size", f"between 0 and {n_train - 1} rows (train has {n_train})", eval_size
        )
    return n_eval


# ---------------------------------------------------------------------------------------------
# HDF5.


def rows_from_hdf5(
    hdf5_file: str | os.PathLike,
    split_to_datasets: Mapping[str, Mapping[str, str]],
    *,
    chunk_rows: int = 256,
    label_key: str = "label",
) -> RowSource:
    """Stream rows from named HDF5 datasets, `chunk_rows` rows at a time.

    Row ``i`` of a split is ``{key: ds[i] for key, ds in split_to_datasets[split].items()}``:
    the datasets of a split are indexed along their first axis and must have the same length.
    Only one block of `chunk_rows` rows per dataset is in memory at a time. Variable-length
    strings come back as ``bytes`` (h5py's default).

    Args:
      hdf5_file: the HDF5 file.
      split_to_datasets: split -> row key -> dataset path in the file (e.g. "train/images").
      chunk_rows: rows read per block.
      label_key: the row key of the label (``RowSource.labels`` reads its dataset whole; a
        split without it has no labels).

    Raises:
      RecordError: the file is unreadable, a path is missing or not a dataset (names it), or
        the datasets of a split differ in length.
    """
    import h5py

    path = Path(hdf5_file)
    int_at_least("chunk_rows", chunk_rows)
    sizes: dict[str, int] = {}
    shapes: dict[str, dict[str, Any]] = {}
    try:
        with h5py.File(path, "r") as f:
            for split, datasets in split_to_datasets.items():
                if not datasets:
                    raise ConfigError(f"split_to_datasets[{split!r}]", "key -> dataset path", {})
                lengths = {}
                for key, name in datasets.items():
                    node = f.get(name)
                    if not isinstance(node, h5py.Dataset) or node.ndim == 0:
                        what = "missing" if node is None else "not a dataset with a row axis"
                        raise RecordError(
                            path,
                            f"{name!r} (split {split!r}, key {key!r}) is {what}",
                            f"Name a dataset of the file: {_hdf5_datasets(f)}",
                        )
                    lengths[name] = node.shape[0]
                    shapes[name] = {"dtype": str(node.dtype), "shape": list(node.shape)}
                if len(set(lengths.values())) != 1:
                    raise RecordError(
                        path,
                        f"the datasets of split {split!r} differ in length: {lengths}",
                        "Give datasets with one entry per row",
                    )
                sizes[split] = next(iter(lengths.values()))
    except OSError as err:
        raise RecordError(path, f"is not a readable HDF5 file ({err})") from err

    def rows_gen(split: str) -> Iterator[dict[str, Any]]:
        if split not in split_to_datasets:
            raise ConfigError("split", f"one of {list(split_to_datasets)}", split)
        datasets = split_to_datasets[split]
        with h5py.File(path, "r") as f:
            for start in range(0, sizes[split], chunk_rows):
                stop = min(start + chunk_rows, sizes[split])
                block = {key: f[name][start:stop] for key, name in datasets.items()}
                for i in range(stop - start):
                    yield {key: _row_value(values[i]) for key, values in block.items()}

    size, sha = file_sha256(path)
    source = {
        "type": "hdf5",
        "file": str(path.resolve()),
        "bytes": size,
        "sha256": sha,
        "datasets": {s: dict(d) for s, d in split_to_datasets.items()},
        "arrays": shapes,
    }

    def labels(split: str) -> list[Any]:
        datasets = split_to_datasets.get(split, {})
        if label_key not in datasets:
            raise ConfigError("label_key", f"a key of split {split!r}: {list(datasets)}", label_key)
        with h5py.File(path, "r") as f:
            return [_row_value(value) for value in f[datasets[label_key]][:]]

    return RowSource(rows_gen, sizes, source, labels=labels)


def _hdf5_datasets(f: Any) -> list[str]:
    import h5py

    names: list[str] = []
    f.visititems(lambda name, node: names.append(name) if isinstance(node, h5py.Dataset) else None)
    return sorted(names)


def _row_value(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


# ---------------------------------------------------------------------------------------------
# Image folders.


def rows_from_image_folder(
    split_to_folder: Mapping[str, str | os.PathLike],
    *,
    image_key: str = "image",
    label_key: str = "label",
    extensions: Sequence[str] = IMAGE_EXTENSIONS,
) -> RowSource:
    """List image files laid out as ``<split folder>/<class name>/<image file>``.

    Row ``i`` of a split is ``{image_key: "<absolute path>", label_key: "<class name>"}``,
    ordered by class name, then file name (sorted, so the same on every machine). Hidden files
    and folders (starting with ".") are ignored. The class names are the sorted sub-folder
    names; every split must have the same classes. Use e.g.
    ``ImageFileHandler(delegate_to=ImageArrayHandler(shape=...))`` for the image and
    ``ClassLabelHandler(names=src.class_names)`` for the label.

    The source fingerprints every image (bytes and sha256, `reproml.records.source_fingerprint`)
    so a reuse of the records can see a file added, removed or changed since.

    Args:
      split_to_folder: split -> folder holding one sub-folder per class.
      image_key: row key of the image path.
      label_key: row key of the class name.
      extensions: accepted file extensions (case-insensitive).

    Raises:
      RecordError: a folder is missing, empty, holds a file outside a class folder, a nested
        folder or a file with another extension (names it), or the splits differ in classes.
    """
    extensions = tuple(e.lower() for e in extensions)
    listing: dict[str, list[tuple[str, str]]] = {}
    classes: tuple[str, ...] | None = None
    first_split = ""
    for split, folder in split_to_folder.items():
        folder = Path(folder).resolve()
        if not folder.is_dir():
            raise RecordError(
                folder,
                f"is not a folder (split {split!r})",
                "Give a folder with one sub-folder per class",
            )
        rows: list[tuple[str, str]] = []
        split_classes = []
        for class_dir in _visible(folder):
            if not class_dir.is_dir():
                raise RecordError(
                    class_dir,
                    "is a file outside a class folder",
                    "Move it into <folder>/<class name>/ or delete it",
                )
            split_classes.append(class_dir.name)
            files = _visible(class_dir)
            if not files:
                raise RecordError(
                    class_dir, "is an empty class folder", "Add its images or delete the folder"
                )
            for file in files:
                if file.is_dir() or file.suffix.lower() not in extensions:
                    what = "a nested folder" if file.is_dir() else "not an image file"
                    raise RecordError(
                        file,
                        f"is {what} (accepted: {list(extensions)})",
                        "Move or delete it, or pass extensions=...",
                    )
                rows.append((str(file), class_dir.name))
        if not split_classes:
            raise RecordError(
                folder,
                f"has no class sub-folders (split {split!r})",
                "Put the images in <folder>/<class name>/",
            )
        if classes is None:
            classes, first_split = tuple(split_classes), split
        elif tuple(split_classes) != classes:
            raise RecordError(
                folder,
                f"split {split!r} has classes {split_classes}, split {first_split!r} has "
                f"{list(classes)}",
                "Give every split the same class sub-folders",
            )
        listing[split] = rows

    def rows_gen(split: str) -> Iterator[dict[str, Any]]:
        if split not in listing:
            raise ConfigError("split", f"one of {list(listing)}", split)
        for image, label in listing[split]:
            yield {image_key: image, label_key: label}

    digest = hashlib.sha256()
    file_hashes: dict[str, dict[str, list]] = {}
    for split, rows in listing.items():
        root = Path(split_to_folder[split]).resolve()
        file_hashes[split] = {}
        for image, _label in rows:
            rel = Path(image).relative_to(root).as_posix()
            size, sha = cached_file_sha256(image)
            file_hashes[split][rel] = [size, sha]
            digest.update(f"{split}\t{rel}\t{size}\n".encode())
    source = {
        "type": "image_folder",
        "folders": {s: str(Path(f).resolve()) for s, f in split_to_folder.items()},
        "extensions": list(extensions),
        "class_names": list(classes or ()),
        "files": {s: len(rows) for s, rows in listing.items()},
        "listing_sha256": digest.hexdigest(),
        "fingerprint_method": FINGERPRINT_METHOD,
        CONTENT_KEY: content_sha256(file_hashes),
        FILE_HASHES_KEY: file_hashes,
    }
    sizes = {s: len(rows) for s, rows in listing.items()}

    def labels(split: str) -> list[str]:
        if split not in listing:
            raise ConfigError("split", f"one of {list(listing)}", split)
        return [label for _image, label in listing[split]]

    return RowSource(rows_gen, sizes, source, class_names=classes, labels=labels)


def _visible(folder: Path) -> list[Path]:
    return sorted((p for p in folder.iterdir() if not p.name.startswith(".")), key=lambda p: p.name)
