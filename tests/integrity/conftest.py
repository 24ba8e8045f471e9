"""Fixtures of the record-integrity tests: a small disk, and a project with a recorded run."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.cli.conftest import cli, no_mongo_env, store_copy, world  # noqa: F401
from tests.integrity.project import Project, git, make_project

DISK_SIZE = "256k"
# A committed Latin-1 file, then changed with more Latin-1 bytes: `git diff HEAD` is not UTF-8.
LATIN1_COMMITTED = "café\n".encode("latin-1")
LATIN1_CHANGED = "café\ncrème brûlée\n".encode("latin-1")


@pytest.fixture
def small_disk(tmp_path: Path):
    """A 256 KiB tmpfs mounted for the test (root only), unmounted afterwards.

    Without root (or where mounting is not allowed) the test is skipped, except under CI,
    where it fails: the disk-full guarantees must be checked somewhere.
    """
    mount = tmp_path / "disk"
    mount.mkdir()
    why = None
    if os.geteuid() != 0:
        why = "mounting a small tmpfs needs root"
    else:
        proc = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={DISK_SIZE}", "tmpfs", str(mount)],
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            why = f"cannot mount a tmpfs: {proc.stderr.strip()}"
    if why:
        if os.environ.get("CI"):
            pytest.fail(why)
        pytest.skip(why)
    yield mount
    subprocess.run(["umount", str(mount)], check=True, timeout=60)


def fill_disk(mount: Path, leave: int = 0) -> Path:
    """Fill the disk at `mount` with a file, then free `leave` bytes of it; return the file."""
    filler = mount / "filler.bin"
    with open(filler, "ab", buffering=0) as f:
        try:
            while True:
                f.write(b"x" * 4096)
        except OSError:
            pass
    os.truncate(filler, max(0, filler.stat().st_size - leave))
    return filler


@pytest.fixture(scope="session")
def recorded(tmp_path_factory) -> Project:
    """Run 1 of the tiny project, recorded with a dirty checkout whose diff is Latin-1 bytes
    and with ``helpers.py`` imported but untracked. Tests that change the checkout restore it."""
    project = make_project(tmp_path_factory.mktemp("recorded"))
    names = project.repo / "names.txt"
    names.write_bytes(LATIN1_COMMITTED)
    git(project.repo, "add", "names.txt")
    git(project.repo, "commit", "-q", "-m", "names in Latin-1")
    names.write_bytes(LATIN1_CHANGED)
    proc = project.run_tiny("with", f"record_dir={project.record_dir}")
    assert proc.returncode == 0, proc.stderr
    return project
