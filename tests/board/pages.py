"""Omniboard 2.16.1's pages as the browser tests read them (selectors found in its UI).

Omniboard's runs table is a fixed-data-table: it renders only the columns that fit the
viewport (so pages are 4200 px wide), orders rows by ``_id`` descending, and shows
"COMPLETED" in its status filter before the rows load (so tests wait for rows).
"""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

ROW = ".public_fixedDataTable_bodyRow"
HEADER_CELL = ".public_fixedDataTable_header .public_fixedDataTableCell_main"
CELL = ".public_fixedDataTableCell_main"
TIMEOUT_MS = 60_000
VIEWPORT = {"width": 4200, "height": 1200}
SHOT_WIDTH = 1600


def api(base: str, path: str, **query: Any) -> Any:
    """GET Omniboard's REST API (``<base>/api/v1/<path>``); JSON-encode dict/list params."""
    params = {k: json.dumps(v) if isinstance(v, dict | list) else v for k, v in query.items()}
    url = f"{base}/api/v1/{path}" + (f"?{urllib.parse.urlencode(params)}" if params else "")
    with urllib.request.urlopen(url, timeout=30) as response:
        body = response.read()
    return json.loads(body) if response.headers.get_content_type() == "application/json" else body


def open_runs_table(page: Any, base: str, n_rows: int) -> list[dict[str, str]]:
    """Open the runs table, wait for `n_rows` rows; return each row as {header: text}."""
    page.goto(base, wait_until="domcontentloaded")
    page.wait_for_function(
        f"document.querySelectorAll('{ROW}').length >= {n_rows}", timeout=TIMEOUT_MS
    )
    return table_rows(page)


def table_rows(page: Any) -> list[dict[str, str]]:
    """Return the rendered rows of the runs table, each as {header text: cell text}."""
    headers = page.eval_on_selector_all(HEADER_CELL, "els => els.map(e => e.innerText.trim())")
    rows = page.eval_on_selector_all(
        ROW,
        f"rs => rs.map(r => Array.from(r.querySelectorAll('{CELL}')).map(c => c.innerText.trim()))",
    )
    return [dict(zip(headers, row, strict=False)) for row in rows]


def open_run(page: Any, base: str, run_id: int, status: str) -> Any:
    """Open run `run_id`'s page (Omniboard's drill-down modal, by deep link); return the modal."""
    page.goto(
        f"{base}?showDrillDownRunModal=true&runIdToExpand={run_id}&runIdStatus={status}",
        wait_until="domcontentloaded",
    )
    modal = page.locator(".drilldown-run-modal")
    modal.wait_for(state="visible", timeout=TIMEOUT_MS)
    return modal


def tab(scope: Any, name: str) -> Any:
    """Click the tab `name` (Metrics Plot, Config, Artifacts, Experiment Details, ...)."""
    scope.get_by_role("button", name=name, exact=True).click()
    return scope.locator(".tab-content")


def expand_key(content: Any, key: str, rounds: int = 20) -> None:
    """Expand the collapsed react-json-view node `key` (shown as ``...``) and all it holds."""
    node = content.locator(".object-key-val").filter(has_text=f'"{key}"').last
    node.wait_for(timeout=TIMEOUT_MS)
    for _ in range(rounds):
        ellipsis = node.locator(".node-ellipsis")
        if ellipsis.count() == 0:
            return
        ellipsis.first.click()


def shot(page: Any, out_dir: Path | None, name: str, locator: Any = None) -> None:
    """Save a screenshot of `locator` (default: the page's top-left) as OUT_DIR/NAME.png."""
    if out_dir is None:
        return
    out_dir.mkdir(parents=True, exist_ok=True)
    box = locator.bounding_box() if locator is not None else None
    clip = box or {"x": 0, "y": 0, "width": SHOT_WIDTH, "height": VIEWPORT["height"]}
    clip = {**clip, "width": min(clip["width"], SHOT_WIDTH)}
    page.screenshot(path=str(out_dir / f"{name}.png"), clip=clip)
