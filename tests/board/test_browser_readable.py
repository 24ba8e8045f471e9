"""The readable board in Chromium: toy file-store runs (a config docstring, a nested dict, a
throughput of ~20 and per-class metrics named by class) as ``reproml board`` shows them.

Omniboard plots every metric of a run by default: the plot must hold accuracy, loss and the
class-named precisions, and no throughput; the runs table must show the nested config as
dotted columns and no docstring column. ``REPROML_SCREENSHOTS=DIR`` saves the pages as PNGs.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from reproml.runs.file_store import FileStore
from tests.board import pages
from tests.board.board_process import running_board
from tests.board.test_cli import toy_store

SHOTS = Path(os.environ["REPROML_SCREENSHOTS"]) if os.environ.get("REPROML_SCREENSHOTS") else None


@pytest.fixture(scope="module")
def toy_board(tmp_path_factory, omniboard_script):
    root = toy_store(tmp_path_factory.mktemp("readable") / "runs", "lr=0.2", "lr=0.4")
    runs, _ = FileStore(root).list_runs()
    assert len(runs) == 2, runs
    log = tmp_path_factory.mktemp("readable-log") / "board.err"
    with running_board(["--store", str(root), "board"], log) as process:
        yield process.url, {run.run_id: run for run in runs}


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport=pages.VIEWPORT)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda err: errors.append(str(err)))
    yield page
    context.close()
    assert errors == [], errors


def test_config_columns_are_dotted_and_without_docstrings(toy_board, page):
    base, runs = toy_board
    rows = pages.open_runs_table(page, base, len(runs))
    headers = set(rows[0])
    assert not any("Doc" in header for header in headers), headers
    assert "C Data" not in headers, headers
    for row in rows:
        run = runs[row["Id"]]
        dotted = [h for h in headers if h.lower() == "c data.name"]
        assert dotted and row[dotted[0]] == run.config["data"]["name"], headers
        assert "{" not in "".join(row.values()), row
    if SHOTS is not None:  # the config columns, right of Omniboard's fixed ones
        SHOTS.mkdir(parents=True, exist_ok=True)
        first = (
            page.locator(pages.HEADER_CELL)
            .filter(has_text=re.compile(r"^C \S"))
            .first.bounding_box()
        )
        clip = {"x": max(0, first["x"] - 20), "y": 0, "width": pages.SHOT_WIDTH, "height": 320}
        page.screenshot(path=str(SHOTS / "readable_runs_table.png"), clip=clip)


def test_default_metrics_plot_has_no_throughput_and_class_named_metrics(toy_board, page):
    base, runs = toy_board
    run = runs["1"]
    modal = pages.open_run(page, base, 1, run.status)
    pages.tab(modal, "Metrics Plot")
    expected = sorted(name for name in run.metrics if name != "train.steps_per_sec")
    assert "eval.precision/circle" in expected and "train.steps_per_sec" in run.metrics
    page.wait_for_function(
        "n => { const p = document.querySelector('.drilldown-run-modal .js-plotly-plot');"
        " return p && p.data && p.data.length >= n; }",
        arg=len(expected),
        timeout=pages.TIMEOUT_MS,
    )
    plot = modal.locator(".js-plotly-plot")
    traces = plot.evaluate("p => p.data.map(t => ({name: t.name, y: Array.from(t.y)}))")
    # Omniboard adds a "<name>.unsmoothed" trace beside each smoothed one.
    assert sorted({t["name"].removesuffix(".unsmoothed") for t in traces}) == expected
    assert max(max(t["y"]) for t in traces) < 3.0  # one scale: losses and ratios
    pages.shot(page, SHOTS, "readable_metrics", modal.locator(".modal-content"))
