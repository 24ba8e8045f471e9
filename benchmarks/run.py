"""`make bench`: every benchmark side by side, a table of ratios, docs/performance.md + JSON.

Usage: ``python -m benchmarks.run [--repeats 5] [--mnist mnist.npz]
[--only io,read,memory,training,distributed,encoded,keras,verify]``
(``--only read``: benchmark 2 and the read stages, without the write benchmark).

One run writes the whole of docs/performance.md: the tables and the sentences that state
numbers are rendered from this run's measurements; the narrative that does not change from
run to run (how each benchmark measures, what was tried and why) is in ``notes*.md`` beside
this file, appended as it is. At least 5 alternating repeats per comparison (the default).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "performance.md"
JSON_OUT = ROOT / "benchmarks" / "results.json"
# The measurement rule: best and median of at least this many alternating repeats.
MIN_REPEATS = 5
ALL = "io,memory,training,distributed,encoded,keras,verify"


def machine() -> dict:
    """Cores, CPU model, Python / TF / NumPy versions."""
    import tensorflow as tf

    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    return {
        "cores": os.cpu_count(),
        "load_average": [round(v, 2) for v in os.getloadavg()],
        "cpu": cpu,
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "numpy": np.__version__,
    }


def rate(side: dict) -> float:
    """Examples per second of one side (its best repeat)."""
    return side["examples"] / side["seconds"]


def median_rate(side: dict) -> float:
    """Examples per second of one side's median repeat."""
    return side["examples"] / side["median_seconds"]


def io_rows(repeats: int, write: bool = True) -> tuple[list[dict], dict]:
    """Benchmarks 1 (unless not `write`) and 2 as table rows, plus the raw results."""
    from benchmarks import bench_io
    from benchmarks.data import mnist_like

    x, y = mnist_like()
    rows, raw = [], {}
    for comp in (None, "GZIP"):
        name = comp or "none"
        if write:
            w = raw[f"write_{name}"] = bench_io.bench_write(x, y, comp, repeats)
            rows.append(
                _row(
                    f"1 write_records, {name}",
                    w["write_records"],
                    w["naive_loop"],
                    "naive loop",
                    2.0,
                )
            )
        r = raw[f"read_{name}"] = bench_io.bench_read(x, y, comp, max(repeats, 5))
        ours = r["input_fn"]
        rows += [
            _row(f"2 input_fn, {name}", ours, r["docs_map_parse_single"],
                 "(a) docs map(parse_single_example)", 10.0),
            _row(f"2 input_fn, {name}", ours, r["in_memory_from_tensor_slices"],
                 "(b) in-memory from_tensor_slices", 1.0 if comp is None else 0.8),
            _row(f"2 input_fn, {name}", ours, r["input_fn_old_manifest"],
                 "(c) input_fn, manifest without record index (record by record)", None),
            _row(f"2 input_fn (sha256 checked), {name}", ours, r["input_fn_without_sha256"],
                 "(d) input_fn without the sha256 check", None),
        ]  # fmt: skip
    from benchmarks import read_stages

    raw["read_stages"] = read_stages.run(x, y, max(repeats, 5))
    return rows, raw


# Each order-2 stage whose op has a ceiling row in the stage table (benchmarks/read_stages.py).
CEILINGS = {
    "+ sha256": "ceiling: sha256 alone",
    "+ decompress whole": "ceiling: decompress alone",
    "+ index checked": "ceiling: cut alone",
    "+ parse_example": "ceiling: parse_example + decode alone",
    "+ rebatch": "ceiling: rebatch alone",
}


def read_bounds(stages: dict[str, dict[str, float]]) -> list[str]:
    """The bound statements under the read stage table, one per compression.

    The bound is the order-2 stage that adds the most CPU time; its ceiling is the row that
    runs that op alone over data in memory (`CEILINGS`).
    """
    names = list(stages)
    first = next(i for i, n in enumerate(names) if n.startswith("order 2:"))
    last = next(i for i, n in enumerate(names) if n.startswith("full input_fn"))
    reference = next(n for n in names if "from_tensor_slices" in n)
    lines = []
    for comp in ("none", "GZIP"):
        cpu = [stages[n].get(f"{comp}_cpu_s") for n in names[first : last + 1]]
        if any(c is None for c in cpu):
            continue
        added = [cpu[0]] + [b - a for a, b in zip(cpu, cpu[1:], strict=False)]
        top = max(range(len(added)), key=added.__getitem__)
        stage = names[first + top]
        ceiling = next((c for prefix, c in CEILINGS.items() if stage.startswith(prefix)), None)
        row = next((n for n in names if ceiling and n.startswith(ceiling)), None)
        statement = (
            f"**The bound ({comp}): {_stage_name(stage)}**, {added[top]:+.3f} of input_fn's "
            f"{cpu[-1]:.3f} CPU s for the 60,000 examples (`from_tensor_slices`: "
            f"{stages[reference][f'{comp}_cpu_s']:.3f})"
        )
        if row is None:
            statement += "; no ceiling row for this op."
        else:
            statement += (
                f"; its ceiling, the op alone over data in memory: "
                f"{stages[row][comp]:,.0f} ex/s best, {stages[row][f'{comp}_cpu_s']:.3f} CPU s."
            )
        steps = ", ".join(f"{_stage_name(names[first + i])} {a:+.3f}" for i, a in enumerate(added))
        lines += [statement + f" Order 2's CPU seconds by stage ({comp}): {steps}.", ""]
    return lines[:-1]


def _stage_name(stage: str) -> str:
    """A stage's row name without its "+ " / "order 2: " prefix and its parenthesis."""
    return stage.removeprefix("+ ").removeprefix("order 2: ").split(" (")[0]


def _load(values: list[float] | None) -> str:
    """A load average triple as "0.52 / 0.61 / 0.80" ("?" when not measured)."""
    return "?" if not values else " / ".join(f"{v:.2f}" for v in values)


def _cpu(row: dict) -> str:
    """A row's best CPU seconds, ours / baseline, or "-" (rows from before they were kept)."""
    if row.get("ours_cpu_s") is None or row.get("baseline_cpu_s") is None:
        return "-"
    return f"{row['ours_cpu_s']:.3f} / {row['baseline_cpu_s']:.3f}"


def _row(what: str, ours: dict, base: dict, baseline: str, target: float | None) -> dict:
    """One comparison: best and median rates of both sides; `target` None only reports."""
    ratio = rate(ours) / rate(base)
    return {
        "what": what,
        "ours_per_s": rate(ours),
        "ours_median_per_s": median_rate(ours),
        "baseline": baseline,
        "baseline_per_s": rate(base),
        "baseline_median_per_s": median_rate(base),
        "ratio": ratio,
        "median_ratio": median_rate(ours) / median_rate(base),
        # CPU seconds (all threads), best repeat: steadier than wall time on a shared machine
        "ours_cpu_s": ours.get("cpu_seconds"),
        "baseline_cpu_s": base.get("cpu_seconds"),
        "repeats": len(ours["runs"]),
        "target": "report" if target is None else f">= {target:g}x",
        "met": None if target is None else ratio >= target,
    }


def memory_rows() -> tuple[list[dict], list[dict]]:
    """Benchmark 5: one subprocess per operation; writing at two split sizes."""

    def measure(*args: str) -> dict:
        out = subprocess.run(
            [sys.executable, "-m", "benchmarks.memory", *args],
            cwd=ROOT,
            check=True,
            capture_output=True,
            text=True,
        )
        return json.loads(out.stdout.strip().splitlines()[-1])

    results = []
    for comp in ("none", "GZIP"):
        for n in (60_000, 240_000):
            with tempfile.TemporaryDirectory(prefix="reproml-bench-mem-") as tmp:
                results.append(measure("write", comp, tmp, str(n)))
                if n == 60_000:
                    results.append(measure("read", comp, tmp, str(n)))
    results += read_memory_by_shard_size()
    return results, results


def read_memory_by_shard_size(
    sizes: tuple[int, ...] = (1_000, 5_000, 20_000), n: int = 60_000
) -> list[dict]:
    """Peak RSS of reading 60,000 examples with shards of `sizes` records (whole-shard reader).

    The whole-shard reader holds up to 8 shards at once (the interleave's cycle), each as its
    stored bytes, decompressed bytes, records and parsed tensors: the peak grows with the shard
    size, not with the split.
    """
    results = []
    for comp in ("none", "GZIP"):
        for size in sizes:
            with tempfile.TemporaryDirectory(prefix="reproml-bench-mem-") as tmp:
                for operation in ("write", "read"):
                    out = subprocess.run(
                        [sys.executable, "-m", "benchmarks.memory", operation, comp, tmp, str(n),
                         str(size)],
                        cwd=ROOT, check=True, capture_output=True, text=True,
                    )  # fmt: skip
                    if operation == "read":
                        results.append(json.loads(out.stdout.strip().splitlines()[-1]))
    return results


def training_rows(repeats: int) -> tuple[list[dict], dict]:
    """Benchmarks 3 and 4 (Sacred tracking overhead, op-determinism cost)."""
    from benchmarks import bench_training

    raw = bench_training.run_all(repeats)
    rows = [
        {
            "what": "3 tracked training, 1,500 steps (Sacred, file store, metrics every step)",
            **raw["tracking"],
        },
        {"what": "4 op determinism on vs off", **raw["determinism"]},
    ]
    return rows, raw


def distributed_rows(repeats: int) -> tuple[list[dict], dict]:
    """Benchmark 6: Beam DirectRunner (2 workers) vs write_records; 2-worker job vs one process."""
    from benchmarks import bench_distributed

    raw = bench_distributed.run_all(repeats)
    beam, train = raw["beam"], raw["training"]
    rows = [
        {
            "what": "6a serialize 60,000 examples: Beam DirectRunner, 2 worker processes",
            "ours": f"{rate(beam['beam_direct_2']):,.0f} ex/s",
            "baseline": f"write_records, 2 threads: {rate(beam['write_records']):,.0f} ex/s",
            "ratio": rate(beam["beam_direct_2"]) / rate(beam["write_records"]),
        },
        {
            "what": "6b train 300 steps: 2-worker all-reduce job (`reproml launch --workers 2`)",
            "ours": f"{train['mwms_2_workers']['steps_per_s']:.1f} steps/s "
            f"({train['mwms_2_workers']['examples_per_s']:,.0f} ex/s)",
            "baseline": f"one process: {train['one_process']['steps_per_s']:.1f} steps/s "
            f"({train['one_process']['examples_per_s']:,.0f} ex/s)",
            "ratio": train["mwms_2_workers"]["examples_per_s"]
            / train["one_process"]["examples_per_s"],
        },
    ]
    return rows, raw


def encoded_rows(repeats: int) -> tuple[list[dict], dict]:
    """Benchmark 7: variable-size JPEGs via encoded records + input_fn vs image_dataset_from_directory."""
    from benchmarks import bench_encoded

    raw = bench_encoded.run(n=600, repeats=max(repeats, 3))
    base = raw["sides"]["image_dataset_from_directory"]
    what = (
        f"7 {raw['examples']} JPEGs 150-400 px -> uint8 [{raw['batch']}, "
        f"{raw['size'][0]}, {raw['size'][1]}, 3] batches, one pass"
    )
    rows = []
    for side, label in (
        ("input_fn_encoded_records", 'input_fn, decode_scale="full"'),
        ("input_fn_decode_scale_auto", 'input_fn, decode_scale="auto"'),
        ("dataset_from_records_per_record", "dataset_from_records (per record) + batch"),
    ):
        ours = raw["sides"][side]
        ratio = ours["best_per_s"] / base["best_per_s"]
        rows.append(
            {
                "what": f"{what}: {label}",
                "ours": f"{ours['best_per_s']:,.0f} ex/s (median {ours['median_per_s']:,.0f}; "
                f"CPU {ours['cpu_ms_per_example']:.3f} ms/ex)",
                "baseline": f"image_dataset_from_directory: {base['best_per_s']:,.0f} ex/s "
                f"(median {base['median_per_s']:,.0f}; CPU {base['cpu_ms_per_example']:.3f} ms/ex)",
                "ratio": ratio,
                "median_ratio": ours["median_per_s"] / base["median_per_s"],
                "cpu_ratio": base["cpu_ms_per_example"] / ours["cpu_ms_per_example"],
                "target": ">= 2x",
                "met": ratio >= 2.0,
            }
        )
    return rows, raw


# Benchmark 7's stage table: what each side does to the JPEG bytes held in memory.
ENCODED_STAGES = {
    "stage_decode_full": "decode_jpeg, full size (no resize)",
    "stage_decode_integer_fast": 'decode_jpeg, full size, dct_method="INTEGER_FAST"',
    "stage_decode_auto": 'decode, decode_scale="auto" (ratio by header, no resize)',
    "stage_decode_ratio8": "decode_jpeg ratio=8 for every image (least libjpeg work)",
    "stage_decode_resize_full": 'decode + resize to 128x128 ("full")',
    "stage_decode_resize_auto": 'decode + resize to 128x128 ("auto")',
}


def keras_rows(repeats: int) -> tuple[list[dict], dict]:
    """Benchmark 8: the default classifier (Estimator) vs a plain Keras fit of the same network."""
    from benchmarks import bench_keras

    raw = bench_keras.run(max(repeats, 5))
    base = raw["sides"]["keras_fit"]
    rows = []
    labelled = (
        ("estimator", "its default oneDNN kernels"),
        ("estimator_eigen", 'cpu_kernels="eigen", a report'),
    )
    for side, label in labelled:
        ours = raw["sides"][side]
        ratio = ours["best_steps_per_s"] / base["best_steps_per_s"]
        cpu_ratio = base["median_cpu_s_per_step"] / ours["median_cpu_s_per_step"]
        rows.append(
            {
                "what": f"8 train the default classifier ({label}), batch {raw['batch']}, "
                f"steps 100-{raw['steps']}",
                "ours": f"{ours['best_steps_per_s']:.2f} steps/s "
                f"(median {ours['median_steps_per_s']:.2f})",
                "baseline": f"Keras fit: {base['best_steps_per_s']:.2f} steps/s "
                f"(median {base['median_steps_per_s']:.2f})",
                "ratio": ratio,
                "median_ratio": ours["median_steps_per_s"] / base["median_steps_per_s"],
                "cpu_ratio": cpu_ratio,
                "target": ">= 1.5x" if side == "estimator" else "-",
                "met": ratio >= 1.5 if side == "estimator" else None,
                "share": f"{ours['share_of_peak']:.0%} (Keras {base['share_of_peak']:.0%}) of "
                f"{raw['peak_gflops']:.1f} GFLOP/s",
            }
        )
    return rows, raw


def verify_rows(mnist: str | None) -> list[dict]:
    """Benchmark 9: the default run's up-front and final shard check (sha256), share of the run.

    On scikit-learn's digits (what `make demo` trains on without a network) and, with `mnist`
    (an MNIST .npz), on MNIST.
    """
    from benchmarks import bench_verify

    sides = [
        ("scikit-learn digits (`dataset.allow_download=False`: `make demo` without a network)",
         ["dataset.allow_download=False"]),
    ]  # fmt: skip
    if mnist:
        sides.append(
            ("MNIST (`dataset.data_path=mnist.npz`, the canonical file)",
             [f"dataset.data_path={Path(mnist).resolve()}"])
        )  # fmt: skip
    return [{"on": label, **bench_verify.measure(config)} for label, config in sides]


def render(
    info: dict,
    io: list[dict],
    raw_io: dict,
    memory: list[dict],
    training: list[dict],
    distributed: list[dict] | None = None,
    encoded: list[dict] | None = None,
    raw_encoded: dict | None = None,
    keras: list[dict] | None = None,
    verify: list[dict] | None = None,
) -> str:
    """Returns docs/performance.md without the notes (`NOTES`, appended by `main`)."""
    lines = [
        "# Performance",
        "",
        "Measured by `make bench` (`python -m benchmarks.run`), every pair side by side in one run,",
        "alternating the two sides and taking the best (fastest) repeat of each: noise on a shared",
        "machine only adds time (medians are in benchmarks/results.json). Each ratio is reported only",
        "after checking both sides did the same work (example count and per-class label counts; the",
        "same final global step for training).",
        "",
        f"Machine: {info['cores']} cores, {info['cpu']}; Python {info['python']}, "
        f"TensorFlow {info['tensorflow']}, NumPy {info['numpy']}.",
        "Data: 60,000 28x28 uint8 images (scikit-learn digits upscaled, shifted, tiled), int labels.",
        "",
        f"This run: `{info.get('command', 'python -m benchmarks.run')}`, from "
        f"{info.get('started', '?')} to {info.get('ended', '?')} (UTC), every section below from "
        "it. Load average (1, 5, 15 min) at the start "
        f"{_load(info.get('load_average'))}, at the end {_load(info.get('load_average_end'))}: "
        "on a shared machine the wall-clock rates fall and swing with the load, so the tables "
        "also give CPU seconds (all threads of the process), which vary far less.",
        "",
    ]
    if io:
        lines += [
            "## Throughput (benchmarks 1, 2)",
            "",
            "Best and median of each side's repeats (alternating A B A B ...; the repeat count is",
            "in the last column).",
            "",
            "| # what | ours (ex/s) best / median | baseline | baseline (ex/s) best / median "
            "| ratio best / median | target | met | repeats | CPU s ours / baseline |",
            "|---|---:|---|---:|---:|---|---|---:|---:|",
        ]
        lines += [
            f"| {r['what']} | {r['ours_per_s']:,.0f} / {r.get('ours_median_per_s', 0):,.0f} | "
            f"{r['baseline']} | {r['baseline_per_s']:,.0f} / "
            f"{r.get('baseline_median_per_s', 0):,.0f} | {r['ratio']:.2f}x / "
            f"{r.get('median_ratio', 0):.2f}x | {r['target']} | "
            f"{'-' if r['met'] is None else 'yes' if r['met'] else '**no**'} | "
            f"{r.get('repeats', '-')} | {_cpu(r)} |"
            for r in io
        ]
        lines.append("")
    if "read_stages" in raw_io:
        lines += [
            "### Where the read time goes (examples/s, cumulative stages of input_fn)",
            "",
            "Best / median of the repeats (the stages alternate within each repeat), and the",
            "process's CPU seconds for the 60,000 examples (best repeat).",
            "",
            "| stage | none (ex/s) | none (CPU s) | GZIP (ex/s) | GZIP (CPU s) |",
            "|---|---:|---:|---:|---:|",
        ]
        lines += [
            f"| {stage} | {rates['none']:,.0f} / {rates.get('none_median', 0):,.0f} | "
            f"{rates.get('none_cpu_s', 0):.3f} | "
            f"{rates['GZIP']:,.0f} / {rates.get('GZIP_median', 0):,.0f} | "
            f"{rates.get('GZIP_cpu_s', 0):.3f} |"
            for stage, rates in raw_io["read_stages"].items()
        ]
        lines += ["", *read_bounds(raw_io["read_stages"]), ""]
    if training:
        lines += [
            "## Training overhead (benchmarks 3, 4)",
            "",
            "| # what | with (s) | without (s) | ratio | target | met |",
            "|---|---:|---:|---:|---|---|",
        ]
        lines += [
            f"| {r['what']} | {r['with_s']:.2f} | {r['without_s']:.2f} | {r['ratio']:.3f} | "
            f"{r['target']} | {r['met']} |"
            for r in training
        ]
        lines.append("")
    if distributed:
        lines += [
            "## Beyond one machine, simulated on this one (benchmark 6)",
            "",
            "| # what | ours | baseline | ratio (examples/s) |",
            "|---|---|---|---:|",
        ]
        lines += [
            f"| {r['what']} | {r['ours']} | {r['baseline']} | {r['ratio']:.2f}x |"
            for r in distributed
        ]
        lines.append("")
    if encoded:
        raw = raw_encoded or {}
        mb = 1e6
        lines += [
            "## A folder of variable-size JPEGs (benchmark 7)",
            "",
            "| # what | ours (encoded records) | baseline | ratio best (median) | CPU ratio "
            "| target | met |",
            "|---|---|---|---:|---:|---|---|",
        ]
        lines += [
            f"| {r['what']} | {r['ours']} | {r['baseline']} | {r['ratio']:.2f}x "
            f"({r['median_ratio']:.2f}x) | {r['cpu_ratio']:.2f}x | {r['target']} "
            f"| {'yes' if r['met'] else '**no**'} |"
            for r in encoded
        ]
        if raw:
            base = raw["sides"]["image_dataset_from_directory"]
            lines += [
                "",
                "Stages, same run (the files' bytes in memory -> parallel map -> batch; no "
                "records, no file reads):",
                "",
                "| stage | ex/s best (median) | CPU ms/ex | CPU ratio to Keras |",
                "|---|---:|---:|---:|",
            ]
            for name, label in ENCODED_STAGES.items():
                side = raw["sides"][name]
                lines.append(
                    f"| {label} | {side['best_per_s']:,.0f} ({side['median_per_s']:,.0f}) | "
                    f"{side['cpu_ms_per_example']:.3f} | "
                    f"{base['cpu_ms_per_example'] / side['cpu_ms_per_example']:.2f}x |"
                )
        if raw:
            lines += [
                "",
                f"Storage: JPEG files {raw['jpeg_files_bytes'] / mb:.2f} MB; encoded records "
                f"{raw['encoded_records_bytes'] / mb:.2f} MB (written in {raw['write_records_s']:.1f} s); "
                f"the same images as raw uint8 pixels at {raw['size'][0]}x{raw['size'][1]}x3 "
                f"{raw['raw_pixels_bytes'] / mb:.2f} MB.",
            ]
        lines.append("")
    if keras:
        lines += [
            "## The default classifier against Keras (benchmark 8)",
            "",
            "| # what | ours (Estimator) | baseline | ratio best (median) | CPU time ratio "
            "(median) | share of the attainable FP32 rate | target | met |",
            "|---|---|---|---:|---:|---|---|---|",
        ]
        lines += [
            f"| {r['what']} | {r['ours']} | {r['baseline']} | {r['ratio']:.2f}x "
            f"({r['median_ratio']:.2f}x) | {r['cpu_ratio']:.2f}x | {r['share']} | {r['target']} | "
            f"{'-' if r['met'] is None else 'yes' if r['met'] else '**no**'} |"
            for r in keras
        ]
        lines.append("")
    if verify:
        lines += [
            "## What a run's up-front shard check costs (benchmark 9)",
            "",
            "The default run (`python -m experiments.mnist`, records already serialized), its "
            "check's seconds from the run's own record (`info.records_read`).",
            "",
            "| default run on | shards | bytes hashed | run wall time (s) | sha256 before training "
            "(s) | sha256 at the end (s) | share of the run | target | met |",
            "|---|---:|---:|---:|---:|---:|---:|---|---|",
        ]
        lines += [
            f"| {v['on']} | {v['shards']} | {v['bytes']:,} | {v['wall_seconds']:.1f} | "
            f"{v['sha256_before_seconds']:.3f} | {v['sha256_at_end_seconds']:.3f} | "
            f"{v['share']:.4%} | <= 2 % | {'yes' if v['share'] <= 0.02 else '**no**'} |"
            for v in verify
        ]
        if len(verify) == 1:
            lines += ["", "MNIST not measured: run with `make bench MNIST=path/to/mnist.npz`."]
        lines.append("")
    if memory:
        lines += [
            "## Peak memory (benchmark 5)",
            "",
            "| operation | compression | examples | records per shard | RSS before (MB) | peak RSS (MB) | added (MB) | shards written (MB) |",
            "|---|---|---:|---:|---:|---:|---:|---:|",
        ]
        lines += [
            f"| {m['operation']} | {m['compression']} | {m['examples']:,} | "
            f"{m.get('samples_per_record', 5000):,} | {m['baseline_mb']} | {m['peak_mb']} | "
            f"{m['added_mb']} | {m['written_mb'] if m['written_mb'] is not None else '-'} |"
            for m in memory
        ]
        lines.append("")
    return "\n".join(lines)


def _now() -> str:
    """The time now, UTC, to the minute."""
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M")


def main(argv: list[str] | None = None) -> None:
    """Runs the selected benchmarks, prints the tables and writes the report files."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=MIN_REPEATS)
    parser.add_argument("--only", default=ALL)
    parser.add_argument("--mnist", help="an MNIST .npz: benchmark 9 also measures MNIST")
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/ alone")
    args = parser.parse_args(argv)
    only = set(args.only.split(","))
    if not args.no_write and (only != set(ALL.split(",")) or args.repeats < MIN_REPEATS):
        parser.error(
            f"docs/performance.md is written by a full run (--only {ALL}) with --repeats >= "
            f"{MIN_REPEATS}; add --no-write to print a partial one"
        )
    info = machine()
    info["command"] = shlex.join(["python", "-m", "benchmarks.run", *(argv or sys.argv[1:])])
    info["started"] = _now()
    reading = "io" in only or "read" in only  # "read": benchmark 2 and the stages only
    io, raw_io = io_rows(args.repeats, write="io" in only) if reading else ([], {})
    memory, raw_mem = memory_rows() if "memory" in only else ([], [])
    training, raw_tr = training_rows(args.repeats) if "training" in only else ([], {})
    distributed, raw_dist = distributed_rows(args.repeats) if "distributed" in only else ([], {})
    encoded, raw_enc = encoded_rows(args.repeats) if "encoded" in only else ([], {})
    keras, raw_keras = keras_rows(args.repeats) if "keras" in only else ([], {})
    verify = verify_rows(args.mnist) if "verify" in only else []
    info["ended"] = _now()
    info["load_average_end"] = [round(v, 2) for v in os.getloadavg()]
    report = render(
        info, io, raw_io, memory, training, distributed, encoded, raw_enc, keras, verify
    )
    print(report)
    if not args.no_write:
        DOC.write_text(report + "\n" + NOTES)
        JSON_OUT.write_text(
            json.dumps(
                {
                    "machine": info,
                    "io": raw_io,
                    "memory": raw_mem,
                    "training": raw_tr,
                    "distributed": raw_dist,
                    "encoded": raw_enc,
                    "keras": raw_keras,
                    "verify": verify,
                },
                indent=2,
            )
            + "\n"
        )
        print(f"wrote {DOC.relative_to(ROOT)} and {JSON_OUT.relative_to(ROOT)}")


NOTES = "".join(
    Path(__file__).with_name(name).read_text()
    for name in (
        "notes.md",
        "notes_distributed.md",
        "notes_encoded.md",
        "notes_keras.md",
        "notes_verify.md",
        "notes_redesign.md",
    )
)

if __name__ == "__main__":
    main()
