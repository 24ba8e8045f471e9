"""``reproml board --sacredboard`` in Chromium, on a file store and on ``--mongo URL``: a
COMPLETED run with a dict result, a FAILED run and a RUNNING run (a toy run holding for minutes
while the board runs).

The three runs are recorded at once in a file store (``-F``) and live in a database of the
real MongoDB-protocol test server (Sacred's ``-m``), so both boards show the same runs.
Sacredboard reads the database through `reproml/board/sacredboard_launcher.py` (status filters
without ``$where``, dict results on one line). ``REPROML_SCREENSHOTS=DIR`` saves the pages of
the file-store board as PNGs.
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

import pymongo
import pytest

from reproml.board.sacredboard import install_dir, is_installed
from reproml.runs.file_store import FileStore
from tests.board import pages
from tests.board.board_process import running_board
from tests.board.requirements import missing
from tests.board.test_cli import REPO
from tests.mongo_server import database_url

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


def record_toy(root: Path, database: str, *entries: str) -> list[str]:
    """The argv of a toy run recorded in file store `root` and live in `database` (host:port:db)."""
    argv = [sys.executable, "-m", "tests.board.toy_experiment", "-F", str(root), "-m", database]
    return [*argv, "with", *entries] if entries else argv


@pytest.fixture(scope="module")
def recorded(tmp_path_factory, mongo_server):
    """Runs 1 (COMPLETED, dict result), 2 (FAILED) and 3 (RUNNING for the module), recorded in a
    file store and in a MongoDB database: (store, database URL)."""
    if not is_installed():
        missing(f"Sacredboard is not installed in {install_dir()}: make omniboard")
    root = tmp_path_factory.mktemp("sacredboard") / "runs"
    url = database_url(mongo_server, "sacredboard")
    database = url.split("://", 1)[1].replace("/", ":")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    for entries in (["named_result=True"], ["fail=True"]):
        run = subprocess.run(record_toy(root, database, *entries), cwd=REPO, env=env,
                             capture_output=True, text=True)  # fmt: skip
        assert run.returncode == (1 if "fail=True" in entries else 0), run.stderr[-2000:]
    holding = subprocess.Popen(
        record_toy(root, database, "hold=600"),
        cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    client = pymongo.MongoClient(url, serverSelectionTimeoutMS=5000)
    try:
        wait_running(root / "3")
        yield root, url
    finally:
        holding.kill()
        holding.wait()
        client.drop_database(url.rsplit("/", 1)[1])
        client.close()


@pytest.fixture(scope="module")
def store(recorded):
    return recorded[0]


@pytest.fixture(scope="module", params=["file store", "mongo"])
def board(request, recorded, tmp_path_factory):
    """Sacredboard's URL: on the file store, or on the database with ``--mongo URL``."""
    store, url = recorded
    source = ["--store", str(store)] if request.param == "file store" else ["--mongo", url]
    log = tmp_path_factory.mktemp("sacredboard-log") / "board.err"
    with running_board([*source, "board", "--sacredboard"], log) as process:
        assert process.url.endswith("/runs")
        yield process.url


def shoot(request) -> bool:
    """Save screenshots (``REPROML_SCREENSHOTS``) of the file-store board only."""
    return SHOTS is not None and "file store" in request.node.callspec.id


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


def test_lists_completed_failed_and_running_runs(store, board, page, request):
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
    if shoot(request):
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / "sacredboard_runs.png"), clip=pages_clip(page))


def pages_clip(page) -> dict:
    box = page.locator("body").bounding_box()
    return {"x": 0, "y": 0, "width": min(box["width"], 1400), "height": min(box["height"], 1000)}


def test_shows_config_and_metrics_of_the_running_run(store, board, page, request):
    run = FileStore(store).get_run("3")
    list_rows(page, board, 3)
    page.locator("table tbody tr").filter(has=page.locator('[sacred-status="RUNNING"]')).click()
    details = page.get_by_text("Run configuration")
    details.wait_for(timeout=pages.TIMEOUT_MS)
    text = page.locator("body").inner_text()
    for key, value in (("hold", "600"), ("lr", "0.1"), ("named_result", "false")):
        assert f"{key}\t{value}" in text, key
    if "file store" in request.node.callspec.id:  # the board's readable view: flat, no docstring
        assert "data.name\ttoy_shapes" in text
        assert "__doc__" not in text
    else:  # a user's database is shown as recorded
        assert "data\t{...}" in text
        assert "__doc__\tA toy review run." in text
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
    # The file store's view leaves timing metrics (train.steps_per_sec) to TensorBoard; a
    # user's database is shown with every metric recorded (the same series as the file store).
    shown = METRICS if "file store" in request.node.callspec.id else tuple(run.metrics)
    assert "train.steps_per_sec" in run.metrics
    assert sorted(plotted) == sorted(shown)
    for name in shown:
        series = run.metrics[name]
        assert plotted[name] == (series["steps"], series["values"]), name
    if shoot(request):
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
