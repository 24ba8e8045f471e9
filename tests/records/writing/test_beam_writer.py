"""WriteRecords on Beam's DirectRunner writes what write_records writes, byte for byte."""

from __future__ import annotations

import random
import re

import apache_beam as beam
import numpy as np
import pytest
from apache_beam.options.pipeline_options import PipelineOptions
from sklearn.datasets import load_digits

from handlers.image import ImageArrayHandler
from handlers.label import ClassLabelHandler
from reproml.errors import ConfigError, HandlerError
from reproml.records.beam_writer import IndexByOrderKey, WriteRecords, lines_with_position
from reproml.records.manifest import load_manifest
from reproml.records.writer import write_records

PATTERN = "{split}-{idx:03d}.tfrecord"
SPR = 8
SIZES = {"train": 45, "eval": 20}  # neither divides by SPR: every split has a remainder shard
SPLITS = ("train", "eval")


def multi_processing() -> PipelineOptions:
    """Two worker processes: rows, handlers and errors cross process boundaries."""
    return PipelineOptions(
        runner="DirectRunner", direct_num_workers=2, direct_running_mode="multi_processing"
    )


def in_memory() -> PipelineOptions:
    return PipelineOptions(runner="DirectRunner", direct_running_mode="in_memory")


@pytest.fixture(scope="module")
def rows() -> dict[str, list[dict]]:
    """Real small data: scikit-learn digits (8x8, values 0..16) with their labels."""
    digits = load_digits()
    out, start = {}, 0
    for split in SPLITS:
        n = SIZES[split]
        out[split] = [
            {"image": digits.images[i], "label": int(digits.target[i])}
            for i in range(start, start + n)
        ]
        start += n
    return out


def handlers() -> dict:
    return {
        "image": ImageArrayHandler(shape=(8, 8, 1), scale=(0, 16, 0, 255)),
        "label": ClassLabelHandler(names=[str(d) for d in range(10)]),
    }


def local_write(record_dir, rows, compression=None):
    return write_records(
        record_dir,
        PATTERN,
        handlers(),
        SPR,
        {s: len(r) for s, r in rows.items()},
        lambda split: iter(rows[split]),
        compression=compression,
        splits=SPLITS,
        progress=False,
    )


def elements(rows) -> list[tuple[str, int, dict]]:
    """(split, index, row) in a shuffled order: the writer must not depend on arrival order."""
    out = [
        (split, i, row) for split, split_rows in rows.items() for i, row in enumerate(split_rows)
    ]
    random.Random(0).shuffle(out)
    return out


def files(record_dir) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(record_dir.iterdir())}


def test_direct_runner_two_processes_writes_the_bytes_write_records_writes(tmp_path, rows):
    with beam.Pipeline(options=multi_processing()) as p:
        pcoll = p | beam.Create(elements(rows), reshuffle=True)
        for compression in (None, "GZIP"):
            name = f"beam-{compression}"
            _ = pcoll | name >> WriteRecords(
                tmp_path / name, PATTERN, handlers(), SPR, compression=compression, splits=SPLITS
            )
    for compression in (None, "GZIP"):
        local = local_write(tmp_path / f"local-{compression}", rows, compression)
        beam_dir = tmp_path / f"beam-{compression}"
        assert files(beam_dir) == files(tmp_path / f"local-{compression}")  # manifest too
        written = load_manifest(beam_dir)
        assert written.fingerprint == local.fingerprint
        assert [s.records for s in written.splits["train"].shards] == [8, 8, 8, 8, 8, 5]
        assert [s.records for s in written.splits["eval"].shards] == [8, 8, 4]


def test_handler_error_names_split_row_key_and_leaves_the_earlier_write(tmp_path, rows):
    record_dir = tmp_path / "records"
    local_write(record_dir, rows)
    earlier = files(record_dir)
    bad = {split: list(split_rows) for split, split_rows in rows.items()}
    bad["train"][17] = {"image": np.zeros((8, 8, 2)), "label": 1}
    bad["train"][40] = {"image": np.zeros(64), "label": 1}  # a later error is not the one named
    with pytest.raises(RuntimeError) as info:  # Beam re-raises worker errors as RuntimeError
        with beam.Pipeline(options=multi_processing()) as p:
            _ = (
                p
                | beam.Create(elements(bad), reshuffle=True)
                | WriteRecords(record_dir, PATTERN, handlers(), SPR, splits=SPLITS)
            )
    local_error = "split 'train', row 17, key 'image': expected an image with 1 channel(s)"
    assert local_error in str(info.value)
    with pytest.raises(HandlerError, match=re.escape(local_error)):  # the local writer's words
        local_write(tmp_path / "local", bad)
    assert files(record_dir) == earlier  # no staging directory, no temp shard, nothing replaced


def run_in_memory(record_dir, pcoll_elements, **kwargs):
    with beam.Pipeline(options=in_memory()) as p:
        _ = (
            p
            | beam.Create(pcoll_elements)
            | WriteRecords(record_dir, PATTERN, handlers(), SPR, splits=SPLITS, **kwargs)
        )


def test_order_key_from_file_name_and_line_number(tmp_path, rows):
    # A source without positions: CSV parts read in parallel. (file, line number) orders them.
    src = tmp_path / "csv"
    src.mkdir()
    train = rows["train"]
    for part, chunk in enumerate([train[:20], train[20:]]):
        lines = [
            ",".join([str(r["label"])] + [str(int(v)) for v in r["image"].ravel()]) for r in chunk
        ]
        (src / f"part-{part}.csv").write_text("\n".join(lines) + "\n")

    def parse(keyed_line):
        key, line = keyed_line
        label, *pixels = (int(v) for v in line.split(","))
        return "train", key, {"image": np.array(pixels, np.float64).reshape(8, 8), "label": label}

    with beam.Pipeline(options=in_memory()) as p:
        _ = (
            p
            | beam.Create(sorted(str(f) for f in src.glob("part-*.csv")))
            | beam.FlatMap(lines_with_position)
            | beam.Map(parse)
            | IndexByOrderKey()
            | WriteRecords(tmp_path / "beam", PATTERN, handlers(), SPR, splits=SPLITS)
        )
    local = local_write(tmp_path / "local", {"train": train})
    assert load_manifest(tmp_path / "beam").fingerprint == local.fingerprint
    assert files(tmp_path / "beam") == files(tmp_path / "local")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda e: e + [("train", 45, e[0][2])] if False else e[:-1] + [("valid", 0, {})],
            "a split of ['train', 'eval'], got 'valid'",
        ),
        (lambda e: [x for x in e if x[:2] != ("train", 9)], "no row with index 9"),
        (
            lambda e: [x for x in e if x[:2] != ("train", 44)] + [("train", 3, e[0][2])],
            "index 3 twice",
        ),
        (
            lambda e: [x for x in e if not (x[0] == "train" and 8 <= x[1] < 16)],
            "no row with index 8",
        ),
        (lambda e: e + [("train", -1, {})], "an index int >= 0, got -1"),
        (lambda e: e + [("train", 3)], "(split, index, row) tuples"),
    ],
)
def test_bad_indices_fail_naming_split_and_index_and_write_nothing(tmp_path, rows, change, message):
    ordered = [(split, i, row) for split, r in rows.items() for i, row in enumerate(r)]
    with pytest.raises(RuntimeError) as info:  # Beam re-raises worker errors as RuntimeError
        run_in_memory(tmp_path / "records", change(ordered))
    assert "reproml.errors.ConfigError: config entry " in str(info.value)
    assert message in str(info.value)
    record_dir = tmp_path / "records"
    assert not record_dir.exists() or files(record_dir) == {}


def test_duplicate_order_keys_are_refused(tmp_path, rows):
    keyed = [("train", ("a.csv", i // 2), row) for i, row in enumerate(rows["train"][:4])]
    with pytest.raises(RuntimeError) as info:
        with beam.Pipeline(options=in_memory()) as p:
            _ = (
                p
                | beam.Create(keyed)
                | IndexByOrderKey()
                | WriteRecords(tmp_path, PATTERN, handlers(), SPR, splits=SPLITS)
            )
    assert "order keys of split 'train'" in str(info.value)
    assert "('a.csv', 0) twice" in str(info.value)


@pytest.mark.parametrize(
    ("kwargs", "entry"),
    [
        ({"compression": "LZ4"}, "compression"),
        ({"samples_per_record": 0}, "samples_per_record"),
        ({"record_pattern": "{split}.tfrecord"}, "record_pattern"),
        ({"keys_to_handlers": {}}, "keys_to_handlers"),
    ],
)
def test_bad_arguments_fail_when_the_transform_is_built(tmp_path, kwargs, entry):
    args = {"record_pattern": PATTERN, "keys_to_handlers": handlers(), "samples_per_record": SPR}
    args.update(kwargs)
    with pytest.raises(ConfigError) as info:
        WriteRecords(tmp_path, **args)
    assert info.value.entry == entry
