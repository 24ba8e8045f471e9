"""Faults of write_records: a write killed with SIGKILL half-way, and a manifest that lies."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from reproml.errors import RecordError
from reproml.records.manifest import MANIFEST_NAME, load_manifest
from reproml.records.verify import FIX, verify
from reproml.records.writer import TMP_SUFFIX, shard_name_regex

REPO = Path(__file__).resolve().parents[2]
PATTERN = "{split}-{idx:03d}.tfrecord"
# The same write in this process and in the child: 3 splits, 10 rows per shard.
WRITE = textwrap.dedent(
    """
    from reproml.records.writer import write_records
    from tests.records.writing.conftest import make_rows
    from tests.records.writing.handlers_for_tests import ClassLabelHandler, SlowArrayHandler

    def run(record_dir, delay):
        rows = {"train": make_rows(60, 0), "eval": make_rows(15, 1), "test": make_rows(15, 2)}
        handlers = {"image": SlowArrayHandler((4, 4, 1), delay=delay),
                    "label": ClassLabelHandler(("zero", "one", "two"))}
        return write_records(record_dir, "{split}-{idx:03d}.tfrecord", handlers, 10,
                             {s: len(r) for s, r in rows.items()}, lambda s: iter(rows[s]),
                             compression="GZIP", num_workers=0, progress=False)
    """
)


def run_write(record_dir: Path, delay: float = 0.0):
    namespace: dict = {}
    exec(WRITE, namespace)  # noqa: S102 - the same code the child runs
    return namespace["run"](record_dir, delay)


def kill_write_half_way(record_dir: Path) -> None:
    """Starts the write in a child (50 ms per row) and SIGKILLs it once a shard is staged."""
    code = WRITE + f"\nrun({str(record_dir)!r}, 0.05)\n"
    env = dict(os.environ, PYTHONPATH=str(REPO), TF_CPP_MIN_LOG_LEVEL="2")
    child = subprocess.Popen(
        [sys.executable, "-c", code], cwd=REPO, env=env, stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + 120
    try:
        # Two temp shards: the first one is complete (written, fsynced, hashed), the second open.
        while len(list(record_dir.glob(f".*{TMP_SUFFIX}"))) < 2:
            assert child.poll() is None, child.stderr.read().decode()
            assert time.monotonic() < deadline, "the child never staged two shards"
            time.sleep(0.01)
        child.send_signal(signal.SIGKILL)
        assert child.wait(timeout=30) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        child.stderr.close()


def test_killed_fresh_write_leaves_nothing_that_verifies_and_rerun_matches(tmp_path):
    record_dir = tmp_path / "records"
    record_dir.mkdir()
    kill_write_half_way(record_dir)

    left = sorted(p.name for p in record_dir.iterdir())
    assert left and all(name.endswith(TMP_SUFFIX) and name.startswith(".") for name in left)
    assert not any(shard_name_regex(PATTERN).match(name) for name in left)
    with pytest.raises(RecordError, match="no manifest here"):
        verify(record_dir)

    rerun = run_write(record_dir)
    reference = run_write(tmp_path / "uninterrupted")
    assert rerun.fingerprint == reference.fingerprint
    assert verify(record_dir) == []
    assert not list(record_dir.glob(f".*{TMP_SUFFIX}"))  # the dead child's temp files are gone


def test_killed_rewrite_keeps_the_earlier_write_verifying(tmp_path):
    record_dir = tmp_path / "records"
    earlier = run_write(record_dir)
    (record_dir / "train-003.tfrecord").unlink()  # so the rewrite would change the directory
    before = {p.name: p.read_bytes() for p in record_dir.iterdir()}
    kill_write_half_way(record_dir)

    assert load_manifest(record_dir).fingerprint == earlier.fingerprint
    assert {n: (record_dir / n).read_bytes() for n in before} == before
    problems = verify(record_dir)
    # The earlier write as it was (its shard still missing), plus the dead child's temp files.
    assert [p.path for p in problems if "is missing" in p.problem] == [
        str(record_dir / "train-003.tfrecord")
    ]
    assert all("is missing" in p.problem or p.path.endswith(TMP_SUFFIX) for p in problems), problems


def test_manifest_that_does_not_match_its_shards_is_named(tmp_path):
    record_dir = tmp_path / "records"
    run_write(record_dir)
    first, second = record_dir / "train-000.tfrecord", record_dir / "train-001.tfrecord"
    first_bytes = first.read_bytes()
    first.write_bytes(second.read_bytes())
    second.write_bytes(first_bytes)
    problems = verify(record_dir)
    assert sorted(p.path for p in problems) == [str(first), str(second)]
    assert all(p.fix == FIX and "content changed" in p.problem for p in problems)
    assert (record_dir / MANIFEST_NAME).is_file()
