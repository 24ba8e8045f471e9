"""A tiny experiment file written anywhere: RGB images read through the dataset ingredient's path.

`write_rgb_reader(root)` writes ``root/rgb_reader.py``: small RGB images (6x6x3, classes red /
green / blue) from an npz are serialized by `reproml.datasets.records_ingredient.ensure_records` (so the
run verifies the shards and leases the record dir), then read back. With ``hold=FILE`` the run
prints ``reading`` and waits for FILE to exist before it reads: a live run held mid-way; with
``read=False`` it then ends without reading (only the end-of-run check sees the records).
`RgbReader` runs it as a user does (a subprocess), or in this process (``ex.run``).
"""

from __future__ import annotations

import dataclasses
import importlib.util
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

MAIN = Path(__file__).resolve().parents[2]  # the reproml checkout (on PYTHONPATH)
TIMEOUT = 180

EXPERIMENT = '''"""Small RGB images (6x6x3, 3 classes) from an npz, serialized once, then read."""

import time
from pathlib import Path

import numpy as np
from sacred import Experiment, Ingredient

from handlers.image import ImageArrayHandler
from handlers.label import ClassLabelHandler
from reproml.datasets import records_ingredient as records
from reproml.records.reader import dataset_from_records
from reproml.records.writer import write_records
from reproml.tracking import experiment as rx

dataset = Ingredient("dataset")


@dataset.config
def config():
    data_dir = ""  # the record directory
    data_path = ""  # an npz: x uint8 [N, 6, 6, 3], y int [N] in 0..2
    overwrite_records = False  # serialize again into data_dir


@dataset.capture
def ensure(_run, data_dir, data_path, overwrite_records):
    def write(chosen):
        arrays = np.load(chosen["data_path"])
        rows = [{"image": x, "label": int(y)} for x, y in zip(arrays["x"], arrays["y"])]
        return write_records(
            data_dir,
            "{split}-{idx:05d}.tfrecord",
            {
                "image": ImageArrayHandler(shape=(6, 6, 3)),
                "label": ClassLabelHandler(names=["red", "green", "blue"]),
            },
            10,
            {"train": len(rows)},
            lambda split: iter(rows),
            source={"name": "rgb", records.SERIALIZATION_KEY: chosen},
            splits=("train",),
            progress=False,
        )

    wanted = records.serialization_of({"data_path": data_path}, ["data_path"])
    return records.ensure_records(
        _run, data_dir, wanted, write, overwrite=overwrite_records, path="dataset", name="rgb"
    )


ex = rx.track(Experiment("rgb_reader", ingredients=[dataset]))


@ex.config
def config():
    hold = ""  # wait until this file exists before reading (a run held mid-way)
    read = True  # read the records (False: only the checks at the start and the end see them)


@ex.main
def main(hold, read):
    manifest = ensure()
    print("reading", flush=True)
    while hold and not Path(hold).exists():
        time.sleep(0.05)
    if not read:
        return 0
    return sum(int(row["label"]) for row in dataset_from_records("train", manifest))


@ex.command
def serialize():
    return ensure().fingerprint


if __name__ == "__main__":
    rx.run_commandline(ex)
'''


def write_rgb_npz(path: Path, seed: int, n: int = 30) -> Path:
    """Write `n` random 6x6 RGB images with labels 0..2 (seeded) to `path`."""
    rng = np.random.default_rng(seed)
    np.savez(path, x=rng.integers(0, 256, (n, 6, 6, 3), dtype=np.uint8), y=np.arange(n) % 3)
    return path


@dataclasses.dataclass
class RgbReader:
    """The experiment file under `root`, its store, and two npz files of equal size."""

    root: Path
    runs: Path

    @property
    def script(self) -> Path:
        """The experiment file."""
        return self.root / "rgb_reader.py"

    def env(self) -> dict[str, str]:
        """A user's environment: the reproml checkout on PYTHONPATH, runs in `runs`."""
        env = {k: v for k, v in os.environ.items() if k != "REPROML_MONGO_URL"}
        env.update(
            REPROML_RUNS_DIR=str(self.runs),
            PYTHONPATH=str(MAIN),
            TF_CPP_MIN_LOG_LEVEL="3",
            PYTHONUNBUFFERED="1",
        )
        return env

    def start_held(self, *args: str) -> tuple[subprocess.Popen, threading.Timer]:
        """Start ``python rgb_reader.py ARGS`` and return once it printed ``reading``."""
        proc = subprocess.Popen(
            [sys.executable, str(self.script), *args],
            cwd=self.root,
            env=self.env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        watchdog = threading.Timer(TIMEOUT, proc.kill)  # never hang the test session
        watchdog.start()
        for line in proc.stdout:
            if line.strip() == "reading":
                return proc, watchdog
        out, err = proc.communicate()
        watchdog.cancel()
        raise AssertionError(f"the run ended before reading ({proc.returncode}):\n{out}\n{err}")

    def experiment(self) -> Any:
        """The experiment's `ex`, imported from the file (for ``ex.run`` in this process)."""
        spec = importlib.util.spec_from_file_location(
            f"rgb_reader_{time.monotonic_ns()}", self.script
        )
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module.ex


def write_rgb_reader(root: Path) -> RgbReader:
    """Write the experiment file and two npz files (``a.npz``, ``b.npz``) under `root`."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "rgb_reader.py").write_text(EXPERIMENT)
    write_rgb_npz(root / "a.npz", seed=1)
    write_rgb_npz(root / "b.npz", seed=2)
    return RgbReader(root, root / "runs")


def finish(proc: subprocess.Popen, watchdog: threading.Timer) -> subprocess.CompletedProcess:
    """Wait for a started run to end; return what it printed."""
    try:
        out, err = proc.communicate(timeout=TIMEOUT)
    finally:
        watchdog.cancel()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def flip_byte(path: Path, offset: int | None = None) -> None:
    """Change one byte of `path` in place (same size): by default the middle one."""
    data = bytearray(path.read_bytes())
    at = len(data) // 2 if offset is None else offset
    data[at] ^= 0xFF
    path.write_bytes(bytes(data))
