"""write_records holds a few shards' rows at a time, never a whole split."""

import gc
import weakref

import numpy as np
import pytest

from handlers import ClassLabelHandler, ImageArrayHandler
from reproml.records.writer import write_records
from tests.records.writing.conftest import PATTERN

SHARD = 4
SHARDS = 12


@pytest.mark.parametrize("num_workers", [0, 2])
def test_rows_of_written_shards_are_released_while_later_shards_are_read(tmp_path, num_workers):
    refs: list[weakref.ref] = []
    alive_when_last_shard_starts: list[int] = []

    def rows_gen(split):
        for i in range(SHARD * SHARDS):
            if i == SHARD * (SHARDS - 1):
                gc.collect()
                alive_when_last_shard_starts.append(sum(ref() is not None for ref in refs))
            image = np.full((2, 2, 1), i, np.uint8)  # a fresh array per row
            refs.append(weakref.ref(image))
            yield {"image": image, "label": i % 3}

    manifest = write_records(
        tmp_path,
        PATTERN,
        {"image": ImageArrayHandler(shape=(2, 2, 1)), "label": ClassLabelHandler(num_classes=3)},
        SHARD,
        {"train": SHARD * SHARDS},
        rows_gen,
        num_workers=num_workers,
        progress=False,
    )
    assert manifest.splits["train"].num_examples == SHARD * SHARDS
    # When the last shard starts, only shards still in flight (at most 2 per worker) may hold
    # their rows; the 11 shards before hold 44 rows in all.
    (alive,) = alive_when_last_shard_starts
    assert alive <= SHARD * 2 * max(num_workers, 1), alive
