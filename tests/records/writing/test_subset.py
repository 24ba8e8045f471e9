"""`limit_examples`: a stratified, seeded subset per split, as a table of cases."""

from __future__ import annotations

import pytest

from reproml.errors import ConfigError
from reproml.records.sources import RowSource
from reproml.records.subset import limit_examples, stratified_counts


@pytest.mark.parametrize(
    ("sizes", "limit", "expected"),
    [
        # 5 classes x 250, rows class by class: 80 each (the first 400 rows are 250 + 150).
        ({"a": 250, "b": 250, "c": 250, "d": 250, "e": 250}, 400, [80, 80, 80, 80, 80]),
        ({"a": 30, "b": 20, "c": 15, "d": 10}, 20, [8, 5, 4, 3]),  # largest remainder: d
        ({"a": 10, "b": 20, "c": 30}, 7, [1, 2, 4]),
        ({"a": 1, "b": 100, "c": 100}, 3, [1, 1, 1]),  # a share of 0.01 still keeps "a"
        ({"a": 1, "b": 100, "c": 100}, 2, [0, 1, 1]),  # fewer rows than classes: one is lost
        ({"a": 3, "b": 4}, 7, [3, 4]),  # the whole split
        ({"a": 3, "b": 4}, 100, [3, 4]),
    ],
)
def test_stratified_counts(sizes, limit, expected):
    counts = stratified_counts(sizes, limit)
    assert list(counts.values()) == expected
    assert sum(counts.values()) == min(limit, sum(sizes.values()))
    assert all(counts[c] <= n for c, n in sizes.items())


def _source(labels_by_split):
    rows = {
        s: [{"i": i, "label": y} for i, y in enumerate(ys)] for s, ys in labels_by_split.items()
    }
    return RowSource(
        rows_gen=lambda split: iter(rows[split]),
        split_to_size={s: len(ys) for s, ys in labels_by_split.items()},
        source={"type": "test"},
        labels=lambda split: labels_by_split[split],
    )


def test_subset_is_deterministic_in_source_order_and_recorded():
    src = _source({"train": ["x"] * 12 + ["y"] * 6 + ["z"] * 6, "test": ["x", "y", "z"]})
    first = limit_examples(src, 6, seed=3)
    again = limit_examples(src, 6, seed=3)
    rows = [r["i"] for r in first.rows_gen("train")]
    assert rows == [r["i"] for r in again.rows_gen("train")] == sorted(rows)
    assert [src.labels("train")[i] for i in rows].count("x") == 3
    assert first.split_to_size == {"train": 6, "test": 3}
    # Shares 3, 1.5, 1.5: floors 3, 1, 1; the row left goes to the earlier tie ("y").
    assert first.source["subset"]["examples_per_class"] == {
        "train": {"x": 3, "y": 2, "z": 1},
        "test": {"x": 1, "y": 1, "z": 1},
    }
    assert first.source["subset"]["classes_missing"] == {}
    assert first.labels("train") == [src.labels("train")[i] for i in rows]
    other = limit_examples(src, 6, seed=4)
    assert [r["i"] for r in other.rows_gen("train")] != rows


def test_no_limit_returns_the_source_and_bad_values_are_refused():
    src = _source({"train": [0, 1]})
    assert limit_examples(src, None) is src
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ConfigError, match="max_examples"):
            limit_examples(src, bad)
    with pytest.raises(ConfigError, match="seed"):
        limit_examples(src, 1, seed=-1)
    unlabeled = RowSource(lambda s: iter([]), {"train": 2}, {"type": "csv"})
    with pytest.raises(ConfigError, match="labels to stratify by"):
        limit_examples(unlabeled, 1)
    with pytest.raises(ConfigError, match="one class"):
        limit_examples(_source({"train": [[0, 1], [1, 0]]}), 1)
