"""``reproml board --sacredboard`` on a file store, in Chromium: a COMPLETED run with a dict
result, a FAILED run and a RUNNING run (a toy run holding for minutes while the board runs).

Sacredboard reads the board's SecantusDB through `reproml/board/sacredboard_launcher.py`
(status filters without ``$where``, dict results on one line). ``REPROML_SCREENSHOTS=DIR``
saves the pages as PNGs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from reproml.board.sacredboard import install_dir, is_installed
from reproml.runs.file_store import FileStore
from tests.board import pages
from tests.board.board_process import running_board
from tests.board.requirements import missing
from tests.board.test_cli import REPO, toy_store

SHOTS = Path(os.environ["REPROML_SCREENSHOTS"]) if os.environ.get("REPROML_SCREENSHOTS") else None
METRICS = ("eval.accuracy", "eval.precision/circle", "eval.precision/square", "train.loss")


def wait_running(run_dir: Path, timeout: float = 60.0) -> None:
    """Wait until `run_dir` is a RUNNING run whose metrics.json holds all `METRICS`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            status = json.loads((run_dir / "run.json").read_text())["status"]
            metrics = json.loads((run_dir / "metrics.json").read_text())
        except (OSError, ValueError):
            status, metrics = None, {}
        if status == "RUNNING" and set(METRICS) <= set(metrics):
            return
        time.sleep(0.5)
    raise AssertionError(f"{run_dir} did not become a RUNNING run with {METRICS}")


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """Runs 1 (COMPLETED, dict result) and 2 (FAILED), and run 3 RUNNING for the module."""
    if not is_installed():
        missing(f"Sacredboard is not installed in {install_dir()}: make omniboard")
    root = toy_store(
        tmp_path_factory.mktemp("sacredboard") / "runs", "named_result=True", "fail=True"
    )
    argv = [sys.executable, "-m", "tests.board.toy_experiment", "-F", str(root), "with", "hold=600"]
    holding = subprocess.Popen(argv, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_running(root / "3")
        yield root
    finally:
        holding.kill()
        holding.wait()


@pytest.fixture(scope="module")
def board(store, tmp_path_factory):
    log = tmp_path_factory.mktemp("sacredboard-log") / "board.err"
    with running_board(["--store", str(store), "board", "--sacredboard"], log) as process:
        assert process.url.endswith("/runs")
        yield process.url


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda err: errors.append(str(err)))
    yield page
    context.close()
    assert errors == [], errors


def list_rows(page, url: str, n_rows: int) -> list[dict]:
    page.goto(url, wait_until="domcontentloaded")
    page.wait_for_function(
        f"document.querySelectorAll('table tbody tr [sacred-status]').length >= {n_rows}",
        timeout=pages.TIMEOUT_MS,
    )
    return page.eval_on_selector_all(
        "table tbody tr",
        "rs => rs.map(r => ({id: r.children[1].innerText.trim(),"
        " status: r.querySelector('[sacred-status]').getAttribute('sacred-status'),"
        " alive: r.querySelector('[sacred-status]').getAttribute('sacred-is-alive'),"
        " result: r.children[r.children.length - 1].innerText.trim()}))",
    )


def test_lists_completed_failed_and_running_file_store_runs(store, board, page):
    runs = {run.run_id: run for run in FileStore(store).list_runs()[0]}
    rows = list_rows(page, board, 3)
    assert [(row["id"], row["status"]) for row in rows] == [
        ("3", "RUNNING"),
        ("2", "FAILED"),
        ("1", "COMPLETED"),
    ]
    assert {row["id"]: row["status"] for row in rows} == {i: r.status for i, r in runs.items()}
    assert rows[0]["alive"] == "true"  # its heartbeat is recent: running, not probably dead
    assert runs["1"].result == {"accuracy": 0.5, "loss": 0.5}
    assert rows[2]["result"] == "accuracy: 0.5, loss: 0.5"
    if SHOTS is not None:
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / "sacredboard_runs.png"), clip=pages_clip(page))


def pages_clip(page) -> dict:
    box = page.locator("body").bounding_box()
    return {"x": 0, "y": 0, "width": min(box["width"], 1400), "height": min(box["height"], 1000)}


def test_shows_config_and_metrics_of_the_running_run(store, board, page):
    run = FileStore(store).get_run("3")
    list_rows(page, board, 3)
    page.locator("table tbody tr").filter(has=page.locator('[sacred-status="RUNNING"]')).click()
    details = page.get_by_text("Run configuration")
    details.wait_for(timeout=pages.TIMEOUT_MS)
    text = page.locator("body").inner_text()
    for key, value in (("data.name", "toy_shapes"), ("hold", "600"), ("lr", "0.1")):
        assert f"{key}\t{value}" in text, key
    assert "__doc__" not in text
    page.get_by_text("Metrics plots", exact=True).click()
    page.get_by_text("Display all", exact=True).click()
    page.wait_for_function(
        "n => Array.from(document.querySelectorAll('.js-plotly-plot'))"
        ".some(p => p.data && p.data.length >= n)",
        arg=len(METRICS),
        timeout=pages.TIMEOUT_MS,
    )
    traces = page.evaluate(
        "() => Array.from(document.querySelectorAll('.js-plotly-plot')).flatMap(p => (p.data"
        " || []).map(t => ({name: t.name, x: Array.from(t.x), y: Array.from(t.y)})))"
    )
    plotted = {t["name"]: (t["x"], t["y"]) for t in traces}
    assert sorted(plotted) == sorted(METRICS)
    for name in METRICS:
        series = run.metrics[name]
        assert plotted[name] == (series["steps"], series["values"]), name
    if SHOTS is not None:
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / "sacredboard_metrics.png"), clip=pages_clip(page))


@pytest.mark.parametrize(
    "operator, value, ids",
    [("==", "RUNNING", ["3"]), ("!=", "RUNNING", ["1", "2"]), ("==", "DEAD", []),
     ("!=", "DEAD", ["1", "2", "3"])],
)  # fmt: skip
def test_status_filters_run_on_the_boards_database(board, operator, value, ids):
    """Sacredboard's RUNNING/DEAD filters (``$where`` upstream) answer on SecantusDB."""
    query = {"type": "and", "filters": [{"field": "status", "operator": operator, "value": value}]}
    base = board.removesuffix("/runs")
    url = f"{base}/api/run?" + urllib.parse.urlencode({"queryFilter": json.dumps(query)})
    with urllib.request.urlopen(url, timeout=30) as response:
        shown = json.loads(response.read())["data"]
    assert sorted(run["id"] for run in shown) == ids
