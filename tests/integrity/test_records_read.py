"""A run proves what it read: shards hashed before training and at the end, record dirs leased.

Every case runs the experiment file `tests.integrity.rgb_reader` writes into a temp dir (small RGB
images, three classes), as a user runs it (a subprocess) or in this process.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest
from sacred import Experiment

from reproml.errors import RecordError, RecordsInUseError, ReproMLError
from reproml.records.manifest import MANIFEST_NAME, load_manifest
from reproml.records.readers import READERS_DIR, live_readers, refuse_if_being_read, take_read_lease
from reproml.tracking import experiment as rx
from reproml.tracking.records_read import read_records_in_run
from tests.cli.toy_experiments import write_toy_records
from tests.integrity.rgb_reader import finish, flip_byte, write_rgb_reader


@pytest.fixture
def rgb(tmp_path, monkeypatch):
    """The RGB experiment under tmp_path; in-process runs record into its store."""
    reader = write_rgb_reader(tmp_path / "project")
    monkeypatch.setenv("REPROML_RUNS_DIR", str(reader.runs))
    return reader


def _status(reader, run_id: str) -> str:
    return json.loads((reader.runs / run_id / "run.json").read_text())["status"]


def _serialize(ex, data_dir, data_path, **entries):
    updates = {"dataset.data_dir": str(data_dir), "dataset.data_path": str(data_path)}
    updates.update({f"dataset.{k}": v for k, v in entries.items()})
    return ex.run("serialize", config_updates=updates)


def test_rewrite_during_a_run_is_refused_naming_the_run(rgb, tmp_path):
    data_dir, hold = tmp_path / "records", tmp_path / "go"
    args = [
        f"dataset.data_dir={data_dir}",
        f"dataset.data_path={rgb.root / 'a.npz'}",
        f"hold={hold}",
    ]
    proc, watchdog = rgb.start_held("with", *args)
    try:
        manifest_before = (data_dir / MANIFEST_NAME).read_text()
        (lease,) = live_readers(data_dir)
        assert (lease["run_id"], lease["experiment"], lease["pid"]) == ("1", "rgb_reader", proc.pid)
        with pytest.raises(RecordsInUseError) as info:
            _serialize(rgb.experiment(), data_dir, rgb.root / "b.npz", overwrite_records=True)
        message = str(info.value)
        assert f"being read by run 1 (rgb_reader, pid {proc.pid})" in message
        assert "Wait for it or stop it" in message and "\n" not in message
        assert (data_dir / MANIFEST_NAME).read_text() == manifest_before  # nothing was written
        assert _status(rgb, "2") == "FAILED"  # the refused serialize is a recorded failure
    finally:
        hold.touch()
        done = finish(proc, watchdog)
    assert done.returncode == 0, done.stderr
    assert _status(rgb, "1") == "COMPLETED"
    read = json.loads((rgb.runs / "1" / "info.json").read_text())["records_read"]
    (entry,) = read
    assert entry["shards"] == 3 and entry["seconds"] >= 0 and entry["seconds_at_end"] >= 0
    assert not (data_dir / READERS_DIR).exists()  # the lease went with the run
    # Now nobody reads them: the rewrite goes ahead.
    run = _serialize(rgb.experiment(), data_dir, rgb.root / "b.npz", overwrite_records=True)
    assert run.result == load_manifest(data_dir).fingerprint


def test_shards_changed_under_a_running_run_fail_it_naming_the_shard(rgb, tmp_path):
    data_dir, hold, other = tmp_path / "records", tmp_path / "go", tmp_path / "other"
    _serialize(rgb.experiment(), other, rgb.root / "b.npz")  # run 1: valid shards of b
    args = [
        f"dataset.data_dir={data_dir}",
        f"dataset.data_path={rgb.root / 'a.npz'}",
        f"hold={hold}",
        "read=False",  # what the reader does with changed shards is not what is tested here
    ]
    proc, watchdog = rgb.start_held("with", *args)
    try:
        # A manual copy (no writer to refuse): b's shard, same size, a valid TFRecord file.
        shutil.copy(other / "train-00001.tfrecord", data_dir / "train-00001.tfrecord")
    finally:
        hold.touch()
        done = finish(proc, watchdog)
    assert done.returncode != 0
    shard = data_dir / "train-00001.tfrecord"
    error = [line for line in done.stderr.splitlines() if str(shard) in line]
    assert error and "changed while this run read it" in error[0], done.stderr
    assert _status(rgb, "2") == "FAILED"  # never COMPLETED on mixed data
    assert not (data_dir / READERS_DIR).exists()


def test_a_stale_lease_is_ignored_and_removed(rgb, tmp_path):
    data_dir = tmp_path / "records"
    ex = rgb.experiment()
    _serialize(ex, data_dir, rgb.root / "a.npz")
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    lease = take_read_lease(data_dir, run_id=9, experiment="rgb_reader")
    lease.path.write_text(json.dumps({**lease.reader, "pid": int(dead.stdout)}))
    run = _serialize(ex, data_dir, rgb.root / "b.npz", overwrite_records=True)
    assert run.result == load_manifest(data_dir).fingerprint
    assert not lease.path.exists() and live_readers(data_dir) == []


def test_a_live_lease_of_another_process_refuses_write_records(tmp_path):
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        lease = take_read_lease(tmp_path, run_id=7, experiment="mnist")
        lease.path.write_text(json.dumps({**lease.reader, "pid": sleeper.pid}))
        with pytest.raises(RecordsInUseError, match=rf"run 7 \(mnist, pid {sleeper.pid}\)"):
            refuse_if_being_read(tmp_path)
        lease.release()
        refuse_if_being_read(tmp_path)  # released: nobody reads
        assert not (tmp_path / READERS_DIR).exists()
    finally:
        sleeper.kill()
        sleeper.wait()


def test_a_foreign_manifest_fails_the_run_naming_the_shard(rgb, tmp_path):
    ex = rgb.experiment()
    dir_a, dir_b = tmp_path / "a", tmp_path / "b"
    _serialize(ex, dir_a, rgb.root / "a.npz")
    _serialize(ex, dir_b, rgb.root / "b.npz")
    sizes = {p.name: p.stat().st_size for p in dir_a.glob("*.tfrecord")}
    assert sizes == {p.name: p.stat().st_size for p in dir_b.glob("*.tfrecord")}
    shutil.copy(dir_b / MANIFEST_NAME, dir_a / MANIFEST_NAME)  # b's manifest over a's shards
    with pytest.raises(RecordError) as info:
        ex.run(
            config_updates={
                "dataset.data_dir": str(dir_a),
                "dataset.data_path": str(rgb.root / "b.npz"),
            }
        )
    assert str(info.value).startswith(f"{dir_a / 'train-00000.tfrecord'}: has sha256 ")
    assert "\n" not in str(info.value)
    assert _status(rgb, "3") == "FAILED"
    info = json.loads((rgb.runs / "3" / "info.json").read_text())
    assert "records_read" not in info
    assert "reading" not in (rgb.runs / "3" / "cout.txt").read_text()  # failed before reading
    assert not (dir_a / READERS_DIR).exists()


def test_a_flipped_byte_fails_the_run_before_reading(rgb, tmp_path):
    ex = rgb.experiment()
    data_dir = tmp_path / "records"
    _serialize(ex, data_dir, rgb.root / "a.npz")
    flip_byte(data_dir / "train-00002.tfrecord")
    with pytest.raises(RecordError, match=r"train-00002\.tfrecord: has sha256 .* same size"):
        ex.run(
            config_updates={
                "dataset.data_dir": str(data_dir),
                "dataset.data_path": str(rgb.root / "a.npz"),
            }
        )
    assert _status(rgb, "2") == "FAILED"
    assert "reading" not in (rgb.runs / "2" / "cout.txt").read_text()
    assert not (data_dir / READERS_DIR).exists()


def _toy_reader(record_dir, manifest):
    """A tracked experiment whose main reads `record_dir` with a manifest loaded earlier."""
    ex = rx.track(Experiment("toy_reader", save_git_info=False))

    @ex.main
    def main(_run):
        return read_records_in_run(_run, record_dir, manifest).shards

    return ex


def test_records_rewritten_between_loading_and_leasing_are_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("REPROML_RUNS_DIR", str(tmp_path / "runs"))
    records = tmp_path / "records"
    write_toy_records(records)
    manifest = load_manifest(records)
    write_toy_records(records, payload=b"other rows" * 8)  # a writer that finished meanwhile
    with pytest.raises(RecordError, match="manifest.json: was rewritten while this run started"):
        _toy_reader(records, manifest).run()
    assert not (records / READERS_DIR).exists()
    assert _toy_reader(records, load_manifest(records)).run().result == 1


def test_reading_records_needs_an_experiment_wired_with_track(tmp_path):
    write_toy_records(tmp_path)
    ex = Experiment("untracked", save_git_info=False)

    @ex.main
    def main(_run):
        return read_records_in_run(_run, tmp_path, load_manifest(tmp_path)).shards

    with pytest.raises(ReproMLError, match="not wired with reproml.tracking.experiment.track"):
        ex.run()
    assert not (tmp_path / READERS_DIR).exists()  # the lease taken is released
