"""Tiny record directories for the input tests, written once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.records.reading.tiny_records import write_tiny_records


@pytest.fixture(scope="session")
def records(tmp_path_factory) -> tuple[Path, dict[str, list[dict]]]:
    """An uncompressed tiny record dir (read only) and the rows written to it."""
    record_dir = tmp_path_factory.mktemp("records")
    _, rows = write_tiny_records(record_dir)
    return record_dir, rows


@pytest.fixture(scope="session")
def gzip_records(tmp_path_factory) -> tuple[Path, dict[str, list[dict]]]:
    """The same rows written with GZIP compression."""
    record_dir = tmp_path_factory.mktemp("records_gzip")
    _, rows = write_tiny_records(record_dir, compression="GZIP")
    return record_dir, rows
