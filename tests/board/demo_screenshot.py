"""Screenshot of `reproml board` on the runs of `make demo`: ``make demo-screenshot``.

``python -m tests.board.demo_screenshot RUNS_DIR PNG`` starts ``reproml --store RUNS_DIR board``
as a user does, opens its URL in Debian's Chromium (Playwright, no browser download), waits for
the runs table's rows (not for the word COMPLETED, which the status filter shows first) and
saves the page as PNG. It asserts that every file-store run is listed.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from reproml.runs.file_store import FileStore
from tests.board import pages
from tests.board.board_process import running_board
from tests.board.requirements import CHROMIUM_ARGS, require_chromium


def main(runs_dir: str, png: str) -> None:
    """Save the runs table of ``reproml board`` on `runs_dir` as `png`."""
    from playwright.sync_api import sync_playwright

    runs, _ = FileStore(runs_dir).list_runs()
    log = Path(tempfile.mkdtemp(prefix="reproml-board-")) / "board.err"
    with running_board(["--store", runs_dir, "board"], log) as board, sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=require_chromium(), args=CHROMIUM_ARGS, headless=True
        )
        page = browser.new_page(viewport={"width": pages.SHOT_WIDTH, "height": 700})
        rows = pages.open_runs_table(page, board.url, len(runs))
        shown = sorted(row.get("ID", row.get("Id", "")) for row in rows)
        page.screenshot(path=png, full_page=True)
        browser.close()
    print(f"{png}: runs table of {board.url} with {len(rows)} row(s) {shown}")


if __name__ == "__main__":
    main(*sys.argv[1:3])
