"""`max_examples`: a deterministic, seeded, stratified subset of each split that keeps every class.

Taking the first N rows of a source sorted by class (an image folder lists its rows class by
class) keeps the first classes and drops the rest. `limit_examples` instead chooses, per split::

    labels(split) -> rows per class -> N * share of each class (largest remainder; a class that
    would get 0 gets 1 while N >= the number of classes) -> that many rows of each class, drawn
    by np.random.default_rng([seed, crc32(split)]) -> kept in the source's row order

The same source, N and seed give the same rows on every machine. The source dict records how
(``source["subset"]``: method, seed, max_examples, the examples per class of each split, the
classes a split lacks), and the manifest keeps it.
"""

from __future__ import annotations

import dataclasses
import zlib
from collections.abc import Hashable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from reproml.checks import int_at_least, optional_int_at_least
from reproml.errors import ConfigError
from reproml.records.sources import RowSource

SUBSET_KEY = "subset"
METHOD = "stratified by label: largest-remainder share per class, rows drawn by a seeded rng"


def stratified_counts(class_sizes: Mapping[Hashable, int], limit: int) -> dict[Hashable, int]:
    """Return how many rows of each class a subset of `limit` rows takes.

    Each class gets its share ``limit * size / total`` rounded down, the rows left over go to
    the largest remainders (ties: the earlier class). While ``limit >= number of classes``
    every class keeps at least one row (taken from the class with the most). `limit` >= the
    total keeps everything.

    Args:
      class_sizes: rows per class, in a fixed class order.
      limit: rows to keep (>= 1).
    """
    total = sum(class_sizes.values())
    if limit >= total:
        return dict(class_sizes)
    exact = {c: limit * n / total for c, n in class_sizes.items()}
    counts = {c: int(share) for c, share in exact.items()}
    order = sorted(class_sizes, key=lambda c: -(exact[c] - counts[c]))  # stable: ties keep order
    for c in order[: limit - sum(counts.values())]:
        counts[c] += 1
    if limit >= len(class_sizes):
        for c in [c for c in class_sizes if counts[c] == 0]:
            donor = max(class_sizes, key=lambda d: counts[d])
            counts[donor] -= 1
            counts[c] = 1
    return counts


def stratified_indices(labels: Sequence[Hashable], limit: int, seed: int, split: str) -> np.ndarray:
    """Return the sorted row indices of the stratified subset of `labels` (see the module)."""
    by_class: dict[Hashable, list[int]] = {}
    for i, label in enumerate(labels):
        by_class.setdefault(label, []).append(i)
    classes = sorted(by_class, key=str)
    counts = stratified_counts({c: len(by_class[c]) for c in classes}, limit)
    rng = np.random.default_rng([seed, zlib.crc32(split.encode())])
    chosen = [
        np.asarray(by_class[c])[rng.permutation(len(by_class[c]))[: counts[c]]] for c in classes
    ]
    return np.sort(np.concatenate(chosen)) if chosen else np.zeros(0, dtype=int)


def limit_examples(src: RowSource, max_examples: int | None, *, seed: int = 0) -> RowSource:
    """Return `src` with each split cut to a stratified subset of `max_examples` rows.

    Args:
      src: a row source whose ``labels`` says each row's class (every `reproml.records.sources`
        source has it).
      max_examples: rows to keep per split; None keeps everything (and `src` is returned).
      seed: the seed of the rows drawn within each class.

    Returns:
      A RowSource yielding the chosen rows in the source's order; its source dict adds
      ``"subset": {"method", "seed", "max_examples", "examples_per_class": {split: {class:
      count}}, "classes_missing": {split: [class, ...]}}`` (classes of the whole source that a
      split's subset has none of).

    Raises:
      ConfigError: `max_examples` is not None or an int >= 1, `seed` not an int >= 0, or the
        source has no labels (names it).
    """
    if max_examples is None:
        return src
    optional_int_at_least("max_examples", max_examples)
    int_at_least("seed", seed, 0)
    if src.labels is None:
        raise ConfigError(
            "max_examples",
            f"a source with labels to stratify by ({src.source.get('type', 'this source')} has "
            "none): None",
            max_examples,
        )
    chosen: dict[str, np.ndarray] = {}
    per_class: dict[str, dict[str, int]] = {}
    all_classes: set[str] = set(src.class_names or ())
    for split, size in src.split_to_size.items():
        if size == 0:  # an empty split (e.g. no eval rows) has nothing to keep or miss
            chosen[split] = np.zeros(0, dtype=int)
            continue
        labels = [_hashable(label, split) for label in src.labels(split)]
        all_classes |= {str(label) for label in labels}
        chosen[split] = stratified_indices(labels, max_examples, seed, split)
        counts: dict[str, int] = {}
        for i in chosen[split]:
            counts[str(labels[i])] = counts.get(str(labels[i]), 0) + 1
        per_class[split] = dict(sorted(counts.items()))
    missing = {
        split: sorted(all_classes - set(counts))
        for split, counts in per_class.items()
        if all_classes - set(counts)
    }

    def rows_gen(split: str) -> Iterator[dict[str, Any]]:
        keep = set(chosen[split].tolist()) if split in chosen else set()
        for i, row in enumerate(src.rows_gen(split)):
            if i in keep:
                yield row

    def labels(split: str) -> list[Any]:
        every = src.labels(split)
        return [every[i] for i in chosen[split]]

    source = {
        **src.source,
        SUBSET_KEY: {
            "method": METHOD,
            "seed": seed,
            "max_examples": max_examples,
            "examples_per_class": per_class,
            "classes_missing": missing,
        },
    }
    return dataclasses.replace(
        src,
        rows_gen=rows_gen,
        split_to_size={split: len(idx) for split, idx in chosen.items()},
        source=source,
        labels=labels,
    )


def _hashable(label: Any, split: str) -> Hashable:
    if isinstance(label, np.generic):
        label = label.item()
    if isinstance(label, bytes):
        label = label.decode("utf-8", "replace")
    if not isinstance(label, str | int | bool):
        raise ConfigError(
            f"labels of split {split!r}",
            "one class (an int or a name) per row to stratify max_examples by",
            type(label).__name__,
        )
    return label
