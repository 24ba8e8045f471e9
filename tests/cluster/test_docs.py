"""The code blocks of docs/distributed.md run as written."""

from __future__ import annotations

from tests.doc_blocks import python_blocks, run_blocks


def test_distributed_page_runs_as_written(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)  # the shard_files block reads it
    blocks = python_blocks("docs/distributed.md")
    assert len(blocks) == 2
    run_blocks(blocks, "docs_distributed")
