"""Benchmark 5: peak memory (RSS) of writing and of reading the 60k set, one subprocess each.

Run as ``python -m benchmarks.memory write|read none|GZIP DIR [N [RECORDS_PER_SHARD]]``; prints
one JSON line. After the
set-up (imports, data generation) the process's peak-RSS mark is reset through
/proc/self/clear_refs, so `peak_mb - baseline_mb` is what the operation itself added. Writer
worker processes, if any, are reported separately (`children_peak_mb`). Writing is measured
at two split sizes: if the peak does not grow with the split, the writer holds a bounded number
of shards, not the split's serialized bytes.
"""

from __future__ import annotations

import json
import resource
import sys
from pathlib import Path


def _status_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"{field} not in /proc/self/status")


def main(
    operation: str,
    compression: str,
    record_dir: str,
    n: int = 60_000,
    samples_per_record: int = 5000,
) -> dict:
    """Runs one operation and returns its memory figures in MB."""
    from benchmarks import bench_io
    from benchmarks.data import mnist_like

    comp = None if compression == "none" else compression
    x, y = mnist_like(n)
    if operation == "read":
        bench_io.drain(
            bench_io.in_memory_pipeline(x[:512], y[:512])
        )  # load TF's data runtime first
        del x, y
    Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current RSS
    # Read after the reset: RSS read before it may shrink before it (a freed page), and the
    # peak would then start below the baseline.
    baseline = _status_mb("VmRSS")
    if operation == "write":
        paths = bench_io.ours_write(x, y, Path(record_dir), comp, samples_per_record)
        serialized_mb = sum(p.stat().st_size for p in paths) / 2**20
    else:
        from reproml.records.reader import input_fn

        labels = bench_io.drain(
            input_fn("train", bench_io.BATCH, record_dir, n_epochs=1, shuffle=False)()
        )
        assert len(labels) == n, len(labels)
        serialized_mb = None
    return {
        "operation": operation,
        "examples": n,
        "samples_per_record": samples_per_record,
        "compression": compression,
        "baseline_mb": round(baseline, 1),
        "peak_mb": round(_status_mb("VmHWM"), 1),
        "added_mb": round(_status_mb("VmHWM") - baseline, 1),
        "children_peak_mb": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1),
        "written_mb": None if serialized_mb is None else round(serialized_mb, 1),
    }


if __name__ == "__main__":
    print(json.dumps(main(*sys.argv[1:4], *(int(a) for a in sys.argv[4:6]))))
