"""`reproml board` in Chromium, on runs of real quick experiments (mnist, mnist_gan).

The runs are recorded live with ``-m`` into a MongoDB and in a file store. ``reproml board`` on
the file store pushes them into its private database (keeping their ids) and Omniboard shows
them; ``reproml --mongo URL board`` shows the live ones. What Omniboard shows (pages and REST
API) must equal the file store: the live runs as recorded, the pushed ones as the board's
readable view of them (`reproml.board.readable`: flattened config without docstrings, no
throughput among the plotted metrics). ``REPROML_SCREENSHOTS=DIR`` also saves the pages as PNGs
(``make screenshots`` writes docs/img/).
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

import pytest

from reproml.runs.file_store import FileStore
from reproml.runs.record import TIMING_METRICS, flatten_config
from tests.board import pages
from tests.board.board_process import running_board

SHOTS = Path(os.environ["REPROML_SCREENSHOTS"]) if os.environ.get("REPROML_SCREENSHOTS") else None
PLOTTED = ("train.loss", "eval.accuracy")
PNGS = ("confusion_matrix.png", "sample_predictions.png")


@pytest.fixture(scope="module")
def store_runs(recorded):
    runs, _ = FileStore(recorded.store).list_runs()
    return {run.run_id: run for run in runs}


@pytest.fixture(scope="module")
def board(recorded, tmp_path_factory):
    """``reproml --store RUNS board`` (a private SecantusDB + Omniboard), for the module."""
    log = tmp_path_factory.mktemp("board-log") / "board.err"
    with running_board(["--store", str(recorded.store), "board"], log) as process:
        yield process.url


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport=pages.VIEWPORT)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda err: errors.append(str(err)))
    yield page
    context.close()
    assert errors == [], errors


def classifier_run(store_runs):
    """The first mnist run that logged both plotted metrics and both PNGs."""
    for run in store_runs.values():
        if set(PLOTTED) <= set(run.metrics) and set(PNGS) <= set(run.artifacts):
            return run
    raise AssertionError(f"no mnist run with {PLOTTED} and {PNGS}: {list(store_runs.values())}")


def same_value(shown, stored) -> bool:
    if stored is None:
        return shown in ("", None)
    if isinstance(stored, float):
        return abs(float(shown) - stored) <= 1e-6 * max(1.0, abs(stored))
    return str(shown) == str(stored)


def assert_same_runs(base: str, store_runs: dict, id_of, readable: bool) -> None:
    """Omniboard's REST API shows each file-store run with its status, result, config,
    metrics and artifact bytes; `id_of(run)` is its id in Omniboard's database. `readable`:
    the board's view (flattened config, timing metrics left out) rather than the record."""
    shown = pages.api(
        base, "Runs", select="_id,status,result,config,artifacts", limit=100, query={}
    )
    by_id = {doc["_id"]: doc for doc in shown}
    assert sorted(by_id) == sorted(id_of(run) for run in store_runs.values())
    for run in store_runs.values():
        doc = by_id[id_of(run)]
        assert doc["status"] == run.status, run.run_id
        assert doc["result"] == run.result, run.run_id
        config = flatten_config(run.config) if readable else run.config
        assert doc["config"] == config, run.run_id
        left_out = TIMING_METRICS if readable else ()
        metrics = pages.api(base, "Metrics", query={"run_id": id_of(run)})
        assert {m["name"]: (m["steps"], m["values"]) for m in metrics} == {
            name: (series["steps"], series["values"])
            for name, series in run.metrics.items()
            if name not in left_out
        }, run.run_id
        assert [a["name"] for a in doc["artifacts"]] == run.artifacts, run.run_id
        for artifact in doc["artifacts"]:
            data = pages.api(base, f"files/download/{artifact['file_id']}/{artifact['name']}")
            assert data == (Path(run.location) / artifact["name"]).read_bytes(), artifact


def test_pushed_runs_equal_the_file_store(board, store_runs):
    assert_same_runs(board, store_runs, lambda run: int(run.run_id), readable=True)


def test_live_runs_equal_the_file_store(recorded, store_runs, omniboard_script, tmp_path):
    """The runs Sacred's MongoObserver recorded live, shown by ``reproml --mongo URL board``."""
    import pymongo

    client = pymongo.MongoClient(recorded.live_url)
    live = list(client.get_default_database().runs.find({}, {"start_time": 1}))
    client.close()

    def id_of(run):  # the live document of the same run: same start time (Sacred's ms)
        start = run.start_time.replace(tzinfo=None)
        near = [d["_id"] for d in live if abs(d["start_time"] - start) < dt.timedelta(seconds=1)]
        assert len(near) == 1, (run.run_id, near)
        return near[0]

    args = ["--mongo", recorded.live_url, "board"]
    with running_board(args, tmp_path / "board.err") as process:
        assert process.database.endswith("/live_runs")
        assert_same_runs(process.url, store_runs, id_of, readable=False)


def test_runs_table_lists_every_run(board, store_runs, page):
    rows = pages.open_runs_table(page, board, len(store_runs))
    assert [row["Id"] for row in rows] == sorted(store_runs, key=int, reverse=True)
    for row in rows:
        run = store_runs[row["Id"]]
        assert row["Status"] == run.status
        assert row["Experiment Name"] == run.experiment
        assert same_value(row["Result"], run.result), (row["Result"], run.result)
        for key in ("lr", "seed"):
            if key in run.config:
                assert same_value(row[f"C {key.title()}"], run.config[key]), key
    pages.shot(page, SHOTS, "runs_table", page.locator("#root"))


def test_run_page_shows_metrics_config_artifacts_and_git(board, store_runs, page):
    run = classifier_run(store_runs)
    modal = pages.open_run(page, board, int(run.run_id), run.status)

    pages.tab(modal, "Metrics Plot")
    plot = modal.locator(".js-plotly-plot")
    page.wait_for_function(
        "names => { const p = document.querySelector('.drilldown-run-modal .js-plotly-plot');"
        " return p && p.data && names.every(n => p.data.some(t => t.name === n)); }",
        arg=list(PLOTTED),
        timeout=pages.TIMEOUT_MS,
    )
    traces = plot.evaluate(
        "p => p.data.map(t => ({name: t.name, x: Array.from(t.x), y: Array.from(t.y)}))"
    )
    plotted = {t["name"]: (t["x"], t["y"]) for t in traces}
    for name in PLOTTED:
        assert plotted[name] == (run.metrics[name]["steps"], run.metrics[name]["values"]), name
    pages.shot(page, SHOTS, "run_metrics", modal.locator(".modal-content"))

    content = pages.tab(modal, "Config")
    content.get_by_text(str(run.config["lr"])).first.wait_for(timeout=pages.TIMEOUT_MS)
    text = content.inner_text()
    for key in ("lr", "batch_size", "steps", "seed"):
        assert key in text
    pages.shot(page, SHOTS, "run_config", modal.locator(".modal-content"))

    content = pages.tab(modal, "Artifacts")
    for index, name in enumerate(run.artifacts):
        if name not in PNGS:
            continue
        item = content.locator(f'[test-attr="acc-item-{index}"]')
        item.click()
        image = content.locator(f'img[src*="api/v1/files/download/"][src$="/{name}"]')
        image.wait_for(state="visible", timeout=pages.TIMEOUT_MS)
        page.wait_for_function(
            "img => img.complete && img.naturalWidth > 0",
            arg=image.element_handle(),
            timeout=pages.TIMEOUT_MS,
        )
    pages.shot(page, SHOTS, "run_artifacts", modal.locator(".modal-content"))

    content = pages.tab(modal, "Experiment Details")
    pages.expand_key(content, "repositories")
    group = content.get_by_text("[0 - 100]", exact=False)  # over 100 entries: grouped by 100
    if group.count():
        group.first.click()
        pages.expand_key(content, "repositories")
    repository = run.raw["experiment"]["repositories"][0]
    text = content.inner_text()
    assert repository["commit"] in text and repository["url"] in text
    assert f'"dirty":{json.dumps(repository["dirty"])}' in text
    pages.shot(page, SHOTS, "run_git", modal.locator(".modal-content"))


def test_compare_two_runs(board, store_runs, page):
    rows = pages.open_runs_table(page, board, len(store_runs))
    ids = [row["Id"] for row in rows]
    chosen = [r.run_id for r in store_runs.values() if r.experiment == "mnist"][:2]
    for run_id in chosen:
        page.click(f'[test-attr="cell-row_selection-{ids.index(run_id)}"]')
    page.click("#compare_runs")
    modal = page.locator(".compare-runs-modal")
    modal.wait_for(state="visible", timeout=pages.TIMEOUT_MS)
    expected = {f"{run_id}-train.loss" for run_id in chosen}
    page.wait_for_function(
        "names => { const p = document.querySelector('.compare-runs-modal .js-plotly-plot');"
        " return p && p.data && names.every(n => p.data.some(t => t.name === n)); }",
        arg=sorted(expected),
        timeout=pages.TIMEOUT_MS,
    )
    pages.shot(page, SHOTS, "compare_metrics", modal.locator(".modal-content"))
    content = pages.tab(modal, "Config")
    for run_id in chosen:
        lr = store_runs[run_id].config["lr"]
        content.get_by_text(str(lr)).first.wait_for(timeout=pages.TIMEOUT_MS)
    pages.shot(page, SHOTS, "compare_config", modal.locator(".modal-content"))
