from __future__ import annotations

import json

import numpy as np
import pytest

from handlers.label import ClassLabelHandler
from handlers.numeric import NumericHandler
from reproml.records.writer import write_records


@pytest.fixture
def records(tmp_path):
    """A real record directory: 24 rows in 3 train shards and 1 test shard."""
    rng = np.random.RandomState(0)
    rows = {
        s: [{"x": rng.rand(4).astype("float32"), "label": i % 3} for i in range(n)]
        for s, n in (("train", 18), ("test", 6))
    }
    write_records(
        tmp_path / "records",
        "{split}-{idx:05d}.tfrecord",
        {"x": NumericHandler(shape=[4]), "label": ClassLabelHandler(num_classes=3)},
        6,
        {"train": 18, "test": 6},
        lambda split: iter(rows[split]),
        splits=("train", "test"),
        num_workers=0,
        progress=False,
    )
    return tmp_path / "records"


def test_verify_passes_on_untouched_records(records, cli):
    code, out, err = cli("verify", records)
    assert code == 0, err
    fingerprint = json.loads((records / "manifest.json").read_text())["fingerprint"]
    assert out.splitlines() == [
        f"{records}: OK, 4 shard(s) match manifest.json {{'train': 18, 'test': 6}}",
        f"fingerprint {fingerprint}",
    ]


def test_verify_names_the_shard_that_differs_and_exits_1(records, cli):
    shard = records / "train-00001.tfrecord"
    data = bytearray(shard.read_bytes())
    data[20] ^= 0xFF  # same size, one byte changed
    shard.write_bytes(bytes(data))
    code, out, _ = cli("verify", records)
    assert code == 1
    differs = [line for line in out.splitlines() if line.startswith("DIFFERS")]
    assert len(differs) == 1 and "train-00001.tfrecord" in differs[0] and "sha256" in differs[0]
    assert out.splitlines()[-1].endswith("1 problem(s); the records do not match manifest.json")


def test_verify_without_a_manifest_is_a_one_line_error(tmp_path, cli):
    code, out, err = cli("verify", tmp_path)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "manifest.json" in err and "no manifest" in err
    code, _, err = cli("verify", tmp_path / "nope")
    assert code == 2 and "is not a directory" in err
