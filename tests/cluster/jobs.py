"""What the cluster tests (and `benchmarks.ps_spread`) share: quick records, the tasks' env, reads.

The records are serialized once, before any job: tasks that all found none would all write them
at once. The digits fallback (an empty ``$REPROML_DATA_DIR``), no download.
"""

from __future__ import annotations

import json
import os
import re
import warnings
from collections.abc import Mapping
from pathlib import Path

from reproml.datasets.mnist_ingredient import QUICK, write_mnist_records

REPO = Path(__file__).resolve().parents[2]
# Variables of this process a task must not inherit (each would change what the job does).
NOT_INHERITED = ("TF_CONFIG", "REPROML_MONGO_URL", "REPROML_STRATEGY", "REPROML_SWEEP_ID")


def task_env(data_cache: str | os.PathLike, **extra: str) -> dict[str, str]:
    """The environment of every task: this checkout importable, quiet TF, no GPU, `data_cache`."""
    env = {
        **os.environ,
        "REPROML_DATA_DIR": os.fspath(data_cache),
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "CUDA_VISIBLE_DEVICES": "",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
        **extra,
    }
    for name in NOT_INHERITED:
        env.pop(name, None)
    return env


def write_quick_records(record_dir: str | os.PathLike, env: Mapping[str, str]) -> str:
    """Write the quick config's records (3 train shards: 100, 100, 56 digits); return the dir."""
    chosen = {
        "data_path": None,
        "data_sha256": None,
        "allow_download": QUICK["allow_download"],
        "max_examples": QUICK["max_examples"],
        "samples_per_record": QUICK["samples_per_record"],
        "compression": None,
    }
    previous = os.environ.get("REPROML_DATA_DIR")
    os.environ["REPROML_DATA_DIR"] = env["REPROML_DATA_DIR"]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the fallback's warning: expected here
            write_mnist_records(os.fspath(record_dir), chosen)
    finally:
        if previous is None:
            os.environ.pop("REPROML_DATA_DIR", None)
        else:
            os.environ["REPROML_DATA_DIR"] = previous
    return os.fspath(record_dir)


def only_run(runs_dir: Path) -> dict:
    """The one run of the store (asserting there is exactly one), read back from its files."""
    runs = [p for p in runs_dir.iterdir() if p.name.isdigit()]
    assert [p.name for p in runs] == ["1"], runs
    read = lambda name: json.loads((runs[0] / name).read_text())  # noqa: E731
    return {
        "run": read("run.json"),
        "info": read("info.json"),
        "config": read("config.json"),
        "metrics": read("metrics.json"),
    }


def shards_read(log: str) -> dict[str, list[str]]:
    """``{task: [train shard files]}`` from the tasks' ``reproml.records`` log lines."""
    found = re.findall(r"\[(\w+:\d)\] INFO - reproml.records - input pipeline .*: (.*)", log)
    return {task: files.split(", ") for task, files in found}
