"""The order test files start in: the longest first, so two workers end together.

`make test` gives each of its 2 pytest-xdist workers one test file at a time (``--dist
loadfile``), in the order of the collection (``--no-loadscope-reorder``; by default pytest-xdist
starts the files with the most tests first, which puts the long one-test files, a sweep or a
cluster job, last). A 3-minute file started when the rest is done keeps one worker busy for
3 minutes while the other has nothing left to run; started first, the short files fill in
around it. `tests/conftest.py` sorts the collected tests with `longest_files_first`.
"""

from __future__ import annotations

from collections.abc import Sequence

import pytest

# Test files, longest first: estimated seconds of the whole file (its fixtures and every test)
# on CI's 2 cores with the other worker busy, from CI's `--durations` (the slowest tests) and
# single-file runs. An estimate only decides an order; a file missing here starts after these.
LONGEST_FILES = (
    "tests/experiments/test_recipe_anywhere.py",  # ~300 s: runs, reproduce, sweep, launch
    "tests/cluster/test_gan_on_cluster.py",  # ~210 s: 3 GAN jobs of 2-3 processes
    "tests/models/test_backbone.py",  # ~200 s
    "tests/experiments/test_mnist_gan.py",  # ~150 s: a 150-step GAN run and 2 quick ones
    "tests/board/test_browser.py",  # ~140 s: 4 experiment runs, 2 boards, Chromium
    "tests/board/test_browser_tags.py",  # ~130 s: a 2-trial sweep, 2 boards, Chromium
    "tests/cluster/test_mnist_on_cluster.py",  # ~130 s: 3 cluster jobs
    "tests/sweep/test_sweep.py",  # ~130 s: a 4-trial sweep, killed and resumed
    "tests/integrity/test_late_imports.py",  # ~90 s: 3 runs and a reproduce
    "tests/drift/test_drift_run.py",  # ~60 s
)


def _rank(item: pytest.Item) -> tuple[int, int]:
    """Where `item`'s file starts: a listed file by its place, then the files with a slow test."""
    path = item.nodeid.split("::", 1)[0]
    if path in LONGEST_FILES:
        return (0, LONGEST_FILES.index(path))
    return (1, 0) if item.get_closest_marker("slow") else (2, 0)


def longest_files_first(items: list[pytest.Item]) -> None:
    """Sort `items` in place: whole files, the longest first (`LONGEST_FILES`), then the files
    with a ``slow`` test, then the rest; collection order within each file and each group."""
    first_item: dict[str, pytest.Item] = {}
    ranks: dict[str, tuple[int, int]] = {}
    for item in items:
        path = item.nodeid.split("::", 1)[0]
        first_item.setdefault(path, item)
        ranks[path] = min(ranks.get(path, (9, 0)), _rank(item))
    order = {path: place for place, path in enumerate(first_item)}
    items.sort(key=lambda item: _file_key(item, ranks, order))


def _file_key(
    item: pytest.Item, ranks: dict[str, tuple[int, int]], order: dict[str, int]
) -> Sequence[int]:
    path = item.nodeid.split("::", 1)[0]
    return (*ranks[path], order[path])
