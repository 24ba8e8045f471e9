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

from benchmarks import bench_io, memory, read_stages, run
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
    assert len(rates) == 17
    keys = {f"{c}{s}" for c in ("none", "GZIP") for s in ("", "_median", "_cpu_s")}
    assert all(set(r) == keys and min(r.values()) > 0 for r in rates.values())
    # every ceiling the bound statements may name is a row of the table
    for ceiling in run.CEILINGS.values():
        assert sum(stage.startswith(ceiling) for stage in rates) == 1, ceiling
    bounds = run.read_bounds(rates)
    assert [line.split(")")[0] for line in bounds if line] == [
        "**The bound (none",
        "**The bound (GZIP",
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--only", "read"], "written by a full run"),
        (["--repeats", "3"], "--repeats >= 5"),
    ],
)
def test_only_a_full_run_of_5_repeats_writes_the_doc(args, message, capsys):
    """docs/performance.md comes from one whole run: a partial one must say --no-write."""
    with pytest.raises(SystemExit):
        run.main(args)
    assert message in capsys.readouterr().err


def test_every_notes_file_is_appended_and_the_doc_states_its_run():
    names = sorted(p.name for p in (ROOT / "benchmarks").glob("notes*.md"))
    for name in names:
        assert (ROOT / "benchmarks" / name).read_text() in run.NOTES, name
    info = {"cores": 2, "cpu": "x", "python": "3", "tensorflow": "2", "numpy": "1",
            "command": "python -m benchmarks.run", "started": "2026-12-07 19:00",
            "ended": "2026-12-07 21:00", "load_average": [0.5, 0.4, 0.3],
            "load_average_end": [1.0, 0.9, 0.8]}  # fmt: skip
    verify = {"on": "digits", "shards": 2, "bytes": 1_505_886, "wall_seconds": 150.0,
              "sha256_before_seconds": 0.002, "sha256_at_end_seconds": 0.002, "share": 2.7e-05}  # fmt: skip
    text = run.render(info, [], {}, [], [], verify=[verify])
    assert "from 2026-12-07 19:00 to 2026-12-07 21:00 (UTC)" in text
    assert "at the start 0.50 / 0.40 / 0.30, at the end 1.00 / 0.90 / 0.80" in text
    assert "| digits | 2 | 1,505,886 | 150.0 | 0.002 | 0.002 | 0.0027% | <= 2 % | yes |" in text
    assert "MNIST not measured" in text


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
