"""A full disk never leaves a record that lies: the run ends non-zero naming the store and what
is missing, and no file of the store is ever half-written (a real 256 KiB tmpfs as runs dir)."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pytest

from reproml.tracking.experiment import EXIT_INCOMPLETE_RECORD
from tests.integrity.conftest import fill_disk
from tests.integrity.project import make_project


def _assert_whole(store: Path) -> None:
    """Every file of the file store is whole: no temp file, JSON parses, copies match their md5."""
    for path in store.rglob("*"):
        if not path.is_file():
            continue
        assert not path.name.endswith(".tmp"), f"temp file left: {path}"
        if path.suffix == ".json":
            json.loads(path.read_text())  # a truncated JSON file raises here
        if path.parent.name in ("_sources", "_resources"):
            md5 = re.fullmatch(r".*_([0-9a-f]{32})", path.stem).group(1)
            assert hashlib.md5(path.read_bytes()).hexdigest() == md5, f"truncated copy: {path}"


@pytest.mark.parametrize(
    ("artifact_kb", "leave_kb", "artifact_fits"),
    [
        (64, 0, False),  # the artifact cannot be written
        (2, 4, True),  # the artifact fits (one page), the run.json listing it does not
    ],
    ids=["artifact-too-big", "run-json-too-big"],
)
def test_disk_full_near_the_end_exits_non_zero_naming_the_store_and_what_is_missing(
    small_disk, tmp_path, artifact_kb, leave_kb, artifact_fits
):
    runs = small_disk / "runs"
    project = make_project(tmp_path, runs=runs)
    proc = project.run_tiny(
        "with",
        f"record_dir={project.record_dir}",
        f"fill={small_disk}",
        f"fill_leave_kb={leave_kb}",
        f"artifact_kb={artifact_kb}",
    )
    assert proc.returncode == EXIT_INCOMPLETE_RECORD, proc.stderr
    _assert_whole(runs)  # every file whole or absent, JSON never truncated
    record = json.loads((runs / "1" / "run.json").read_text())
    assert record["status"] == "RUNNING"  # what the store could write, not a false COMPLETED
    assert record["artifacts"] == ["pip-freeze.txt"]
    assert (runs / "1" / "weights.bin").exists() == artifact_fits
    assert "loss: " in proc.stdout  # the result is shown...
    assert "recorded in" not in proc.stdout  # ...but no store is claimed to hold the run
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, proc.stderr
    assert f"file store {runs / '1'} is incomplete" in errors[0]
    assert "failed during artifact_event" in errors[0]
    assert "No space left on device" in errors[0]
    assert "artifact weights.bin" in errors[0]
    assert "the final status COMPLETED and result" in errors[0]
    warnings = [line for line in proc.stderr.splitlines() if line.startswith("WARNING")]
    assert len(warnings) == 1 and "file store failed during" in warnings[0], proc.stderr
    assert "other stores" not in proc.stderr and "whole run" not in proc.stderr


def test_full_disk_at_start_leaves_no_half_written_file_and_truncated_sources_are_rewritten(
    small_disk, tmp_path
):
    runs = small_disk / "runs"
    project = make_project(tmp_path, runs=runs)
    helpers = (project.repo / "helpers.py").read_bytes()
    assert len(helpers) > 16 * 1024  # bigger than the room left below
    filler = fill_disk(small_disk, leave=8 * 1024)

    proc = project.run_tiny("with", f"record_dir={project.record_dir}")
    assert proc.returncode != 0
    last = proc.stderr.strip().splitlines()[-1]
    assert f"{runs}: the file store could not record the start of the run" in last, proc.stderr
    assert "No space left on device" in last and "Traceback" not in proc.stderr
    _assert_whole(runs)
    assert not list(runs.glob("_sources/helpers_*.py"))  # absent rather than half-written
    assert not [p.name for p in runs.iterdir() if p.name.isdigit()]  # no run that never started

    # Room again, and a copy truncated by an earlier writer under the md5 name of the whole file.
    filler.unlink()
    md5 = hashlib.md5(helpers).hexdigest()
    truncated = runs / "_sources" / f"helpers_{md5}.py"
    truncated.write_bytes(helpers[: len(helpers) // 3])
    proc = project.run_tiny("with", f"record_dir={project.record_dir}")
    assert proc.returncode == 0, proc.stderr
    assert f"run 1 recorded in {runs / '1'} " in proc.stdout
    record = json.loads((runs / "1" / "run.json").read_text())
    assert record["status"] == "COMPLETED"
    stored = dict(record["experiment"]["sources"])["helpers.py"]
    assert (runs / stored).read_bytes() == helpers  # the whole file, not the truncated copy
    _assert_whole(runs)
