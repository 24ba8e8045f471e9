"""A reproducible production stream: held-out images, with degradation injected in known windows.

    build_scenario(test_records, "data/scenario", baseline_size=1000, window_size=500,
                   num_windows=12, degradations=[[3, "rotate", 45], [6, "blur", 1.5]])

reads the `split` of a record set (e.g. MNIST's test split), shuffles it with `seed` and writes a
record set with two splits and a manifest like any other dataset:

* ``baseline``: the first `baseline_size` images, clean: the reference a drift report compares
  with (held out from the stream, so a clean window is a fresh sample, never the same images);
* ``production``: `num_windows` windows of `window_size` images, each drawn without replacement
  from the other images (windows may reuse an image, never within a window). The windows listed
  in `degradations` are degraded (`degrade`); the others are clean.

Every record has ``image``, ``label`` (the source's class names), ``timestamp`` (int64 seconds:
window k spans ``[start_time + k * window_seconds, start_time + (k + 1) * window_seconds)``, the
baseline the period before ``start_time``) and ``window`` (k; -1 for the baseline). The
manifest's source records the whole schedule, the seed and the source records' fingerprint.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from scipy import ndimage

from reproml.checks import int_at_least
from reproml.drift.embeddings import read_split
from reproml.errors import ConfigError, RecordError
from reproml.models.data_contract import class_labels
from reproml.records.manifest import MANIFEST_NAME, Manifest

# kind -> what its strength means (also the error message's list).
DEGRADATIONS: dict[str, str] = {
    "rotate": "angle in degrees (scipy.ndimage.rotate, bilinear, same size)",
    "blur": "Gaussian sigma in pixels (scipy.ndimage.gaussian_filter)",
    "noise": "std of added Gaussian noise as a fraction of 255",
    "contrast": "factor in (0, 1]: pixel = mean + factor * (pixel - mean)",
}
BASELINE_SPLIT = "baseline"
PRODUCTION_SPLIT = "production"
START_TIME = 1_700_000_000  # 2023-11-14T22:13:20Z: the stream's first second (unix time)


def degrade(images: np.ndarray, kind: str, strength: float, rng: np.random.Generator) -> np.ndarray:
    """Return uint8 [N, H, W, C] `images` degraded by `kind` at `strength` (see `DEGRADATIONS`).

    Raises:
      ConfigError: an unknown kind, or a strength outside its range.
    """
    if kind not in DEGRADATIONS:
        raise ConfigError("degradation kind", f"one of {sorted(DEGRADATIONS)}", kind)
    strength = float(strength)
    if not np.isfinite(strength) or (kind != "rotate" and strength <= 0):
        raise ConfigError(f"{kind} strength", DEGRADATIONS[kind], strength)
    if kind == "contrast" and strength > 1:
        raise ConfigError(f"{kind} strength", DEGRADATIONS[kind], strength)
    values = images.astype(np.float64)
    if kind == "rotate":
        values = ndimage.rotate(values, strength, axes=(1, 2), reshape=False, order=1)
    elif kind == "blur":
        values = ndimage.gaussian_filter(values, sigma=(0, strength, strength, 0))
    elif kind == "noise":
        values = values + rng.normal(0.0, strength * 255.0, size=values.shape)
    else:
        mean = values.mean(axis=(1, 2, 3), keepdims=True)
        values = mean + strength * (values - mean)
    return np.clip(np.rint(values), 0, 255).astype(np.uint8)


def _schedule(
    degradations: Sequence[Sequence[Any]], num_windows: int, num_classes: int
) -> dict[int, tuple[str, float, int | None]]:
    """Return ``{window: (kind, strength, label or None)}`` from the `degradations` entries."""
    schedule: dict[int, tuple[str, float, int | None]] = {}
    expected = (
        f"[window, kind, strength] or [window, kind, strength, label] entries, each window once, "
        f"window in [0, {num_windows}), label in [0, {num_classes})"
    )
    for entry in degradations:
        if (
            isinstance(entry, str | bytes)
            or not isinstance(entry, Sequence)
            or len(entry) not in (3, 4)
            or not all(_is_int(v) for v in (entry[0], *entry[3:]))
            or not 0 <= entry[0] < num_windows
            or not all(0 <= v < num_classes for v in entry[3:])
            or entry[0] in schedule
        ):
            raise ConfigError("degradations", expected, entry)
        degrade(np.zeros((1, 2, 2, 1), np.uint8), entry[1], entry[2], np.random.default_rng(0))
        label = int(entry[3]) if len(entry) == 4 else None
        schedule[int(entry[0])] = (str(entry[1]), float(entry[2]), label)
    return schedule


def _is_int(value: Any) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool)


def build_scenario(
    source: Any,
    out_dir: str | os.PathLike,
    *,
    split: str = "test",
    baseline_size: int,
    window_size: int,
    num_windows: int,
    degradations: Sequence[Sequence[Any]],
    seed: int = 0,
    start_time: int = START_TIME,
    window_seconds: int = 3600,
    samples_per_record: int = 1000,
    overwrite: bool = False,
) -> Manifest:
    """Write the scenario's records (see the module docstring); returns their manifest.

    Args:
      source: the record set to draw from (a directory or its `Manifest`), with uint8 images
        and class-named labels.
      out_dir: the scenario's record directory.
      split: the split of `source` to draw from.
      baseline_size: clean images held out as the ``baseline`` split.
      window_size: images per production window.
      num_windows: production windows.
      degradations: ``[[window, kind, strength], ...]`` (kinds: `DEGRADATIONS`); an entry
        ``[window, kind, strength, label]`` degrades only the images of that class (a drift
        confined to one class).
      seed: the shuffle, the windows' draws and the noise.
      start_time: unix time of the stream's first window.
      window_seconds: each window's length (an int >= window_size: timestamps are whole seconds).
      samples_per_record: records per shard.
      overwrite: replace the records already in `out_dir`.

    Raises:
      ConfigError: a bad size, schedule or time setting, or more held-out images than the split has.
      RecordError: `out_dir` already holds records (and not `overwrite`).
    """
    from handlers.image import ImageArrayHandler
    from handlers.label import ClassLabelHandler
    from handlers.numeric import NumericHandler
    from reproml.records.writer import write_records  # heavy: TensorFlow

    for entry, value in (
        ("baseline_size", baseline_size),
        ("window_size", window_size),
        ("num_windows", num_windows),
        ("window_seconds", window_seconds),
    ):
        int_at_least(entry, value)
    if window_seconds < window_size:
        raise ConfigError(
            "window_seconds", f"an int >= window_size ({window_size})", window_seconds
        )
    if (Path(out_dir) / MANIFEST_NAME).is_file() and not overwrite:
        raise RecordError(
            str(Path(out_dir) / MANIFEST_NAME),
            "already holds records",
            "Use another directory, or overwrite=True to build the scenario again",
        )
    data = read_split(source, split)
    names = class_labels(source if isinstance(source, Manifest) else Path(source))
    schedule = _schedule(degradations, num_windows, len(names))
    if data.labels is None:
        raise ConfigError(f"{split} split", "records with a 'label' feature", "no labels")
    labels = data.labels
    pool_size = len(data) - baseline_size
    if pool_size < window_size:
        raise ConfigError(
            "baseline_size + window_size",
            f"at most the {len(data)} images of split {split!r}",
            baseline_size + window_size,
        )
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(data))
    baseline_rows, pool = order[:baseline_size], order[baseline_size:]
    windows = [rng.choice(pool, window_size, replace=False) for _ in range(num_windows)]
    images = [data.images[rows] for rows in windows]
    for window, (kind, strength, label) in sorted(schedule.items()):
        chosen = np.ones(window_size, bool) if label is None else labels[windows[window]] == label
        if chosen.any():
            images[window][chosen] = degrade(images[window][chosen], kind, strength, rng)

    def offsets(count: int) -> np.ndarray:
        return (np.arange(count, dtype=np.int64) * window_seconds) // count

    def rows(which: str) -> Iterator[dict[str, np.ndarray | int]]:
        if which == BASELINE_SPLIT:
            times = start_time - window_seconds + offsets(baseline_size)
            for row, time in zip(baseline_rows, times, strict=True):
                yield {
                    "image": data.images[row],
                    "label": int(labels[row]),
                    "timestamp": int(time),
                    "window": -1,
                }
            return
        for k, (rows_k, images_k) in enumerate(zip(windows, images, strict=True)):
            times = start_time + k * window_seconds + offsets(window_size)
            for row, image, time in zip(rows_k, images_k, times, strict=True):
                yield {
                    "image": image,
                    "label": int(labels[row]),
                    "timestamp": int(time),
                    "window": k,
                }

    shape = tuple(int(d) for d in data.images.shape[1:])
    return write_records(
        out_dir,
        "{split}-{idx:05d}.tfrecord",
        {
            "image": ImageArrayHandler(shape=shape),
            "label": ClassLabelHandler(names=names),
            "timestamp": NumericHandler(dtype="int64"),
            "window": NumericHandler(dtype="int64"),
        },
        samples_per_record,
        {BASELINE_SPLIT: baseline_size, PRODUCTION_SPLIT: window_size * num_windows},
        rows,
        source={
            "name": "drift-scenario",
            "scenario": {
                "source": data.source,
                "seed": seed,
                "baseline_size": baseline_size,
                "window_size": window_size,
                "num_windows": num_windows,
                "window_seconds": window_seconds,
                "start_time": start_time,
                "degraded": {
                    str(w): {"kind": k, "strength": s, "label": None if c is None else names[c]}
                    for w, (k, s, c) in sorted(schedule.items())
                },
            },
        },
        splits=(BASELINE_SPLIT, PRODUCTION_SPLIT),
        num_workers=1,
        progress=False,
    )


def degraded_windows(manifest: Manifest) -> list[int]:
    """Return the windows the scenario degraded (from its manifest's source), in order.

    Raises:
      RecordError: the manifest was not written by `build_scenario`.
    """
    scenario = manifest.source.get("scenario")
    if not isinstance(scenario, Mapping):
        raise RecordError(
            str(manifest.record_dir), "is not a drift scenario (no source['scenario'])"
        )
    return sorted(int(w) for w in scenario["degraded"])
