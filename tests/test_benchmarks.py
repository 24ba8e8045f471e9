"""`make bench` keeps working: every benchmark module imports, and the I/O benchmarks run on small data.

Benchmarks are not run by CI (they measure, they do not assert speed), so an API they call can
change under them unnoticed: `benchmarks/read_stages.py` once called a function that had moved,
and `make bench` failed after 30 s. These run the same code on 1,200 examples instead of 60,000,
and check what the benchmarks check before they report a ratio: both sides did the same work.
"""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks import bench_io, memory, read_stages
from benchmarks.data import label_checksum, mnist_like

ROOT = Path(__file__).resolve().parent.parent
N = 1_200


@pytest.fixture(scope="module")
def small():
    return mnist_like(N)


@pytest.mark.parametrize("name", sorted(p.stem for p in (ROOT / "benchmarks").glob("*.py")))
def test_every_benchmark_module_imports(name):
    importlib.import_module(f"benchmarks.{name}")


def test_make_bench_entry_point_parses_its_options():
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.run", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert "--repeats" in result.stdout and "--only" in result.stdout


@pytest.mark.parametrize("compression", [None, "GZIP"])
def test_write_benchmark_sides_write_the_same_examples(small, compression):
    x, y = small
    sides = bench_io.bench_write(x, y, compression, repeats=1)
    assert set(sides) == {"naive_loop", "write_records"}
    assert all(side["examples"] == N and side["seconds"] > 0 for side in sides.values())


def test_read_benchmark_sides_read_the_same_examples(small):
    x, y = small
    sides = bench_io.bench_read(x, y, None, repeats=1)
    assert set(sides) == {
        "docs_map_parse_single",
        "in_memory_from_tensor_slices",
        "input_fn",
        "input_fn_old_manifest",
        "input_fn_without_sha256",
    }
    assert all(side["examples"] == N for side in sides.values())


def test_read_stages_time_every_stage_on_both_compressions(small):
    x, y = small
    rates = read_stages.run(x, y, repeats=1)
    assert len(rates) == 10
    keys = {f"{c}{s}" for c in ("none", "GZIP") for s in ("", "_median", "_cpu_s")}
    assert all(set(r) == keys and min(r.values()) > 0 for r in rates.values())


@pytest.mark.parametrize("operation", ["write", "read"])
def test_memory_probe_reports_what_it_wrote_and_read(tmp_path, operation):
    if operation == "read":
        memory.main("write", "none", str(tmp_path), n=N, samples_per_record=300)
    figures = memory.main(operation, "none", str(tmp_path), n=N, samples_per_record=300)
    # Linux updates VmHWM lazily (hiwater_rss), so right after clear_refs it can trail VmRSS
    # by a few pages: CI saw a peak 0.1 MB under the baseline. 1 MB of slack, not more.
    assert figures["examples"] == N and figures["peak_mb"] >= figures["baseline_mb"] - 1 > 0
    assert figures["samples_per_record"] == 300
    if operation == "read":
        assert len(list(tmp_path.glob("train-*.tfrecord"))) == 4  # shards of 300 records
    assert (figures["written_mb"] is not None) == (operation == "write")


def test_label_checksum_tells_different_work_apart(small):
    _, y = small
    assert label_checksum(y) == label_checksum(y[::-1])  # same examples, another order
    assert label_checksum(y) != label_checksum(y[:-1])


def test_encoded_jpeg_benchmark_sides_read_the_same_examples(tmp_path):
    from benchmarks import bench_encoded
    from benchmarks.run import render

    folder = bench_encoded.make_jpeg_folder(tmp_path / "photos", 9)
    raw = bench_encoded.bench(folder, tmp_path / "records", repeats=1)
    assert raw["examples"] == 9 and raw["label_counts"] == [3, 3, 3]
    stages = {
        "stage_decode_full",
        "stage_decode_integer_fast",
        "stage_decode_auto",
        "stage_decode_ratio8",
        "stage_decode_resize_full",
        "stage_decode_resize_auto",
    }
    assert set(raw["sides"]) == {
        "input_fn_encoded_records",
        "input_fn_decode_scale_auto",
        "dataset_from_records_per_record",
        "image_dataset_from_directory",
        *stages,
    }
    assert all(side["best_s"] > 0 for side in raw["sides"].values())
    assert all(side["cpu_ms_per_example"] > 0 for side in raw["sides"].values())
    assert raw["raw_pixels_bytes"] == 9 * 128 * 128 * 3 and raw["encoded_records_bytes"] > 0
    row = {"what": "7", "ours": "", "baseline": "", "ratio": 1.0, "median_ratio": 1.0}
    row["cpu_ratio"] = 1.0
    text = render(
        {"cores": 2, "cpu": "x", "python": "3", "tensorflow": "2", "numpy": "1"},
        [],
        {},
        [],
        [],
        None,
        [{**row, "target": ">= 2x", "met": False}],
        raw,
    )
    assert "benchmark 7" in text and "raw uint8 pixels" in text
    assert "least libjpeg work" in text
