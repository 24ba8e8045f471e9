"""Tags and notes in Omniboard's runs table, in Chromium, both ways.

Omniboard 2.16.1 shows a run's ``omniboard.tags`` and ``omniboard.notes`` only in its runs
table: a **Tags** column (one chip per tag; "Add Tags..." when none) and a **Notes** column (the
note; "Enter Notes" when none; ``meta.comment`` when the run has no note), both shown by default
right after **Status**, and both editable there (the tags cell is a creatable multi-select, the
notes cell opens a text area). Its run page (drill-down) shows neither.

The runs: a real 2-trial ``reproml sweep`` of ``experiments.mnist`` (digits fallback, tiny
configs), recorded in a file store and live in a MongoDB, each trial tagging itself
``sweep:<ID>``; and two toy runs in the file store only. ``reproml tag`` then tags runs of the
file store. What the table shows (its rendered text) must be what ``reproml`` stored:

* ``reproml --store RUNS board`` (file store pushed into the board's database): every run's
  tags and note, the sweep trials' ``sweep:<ID>`` tag;
* ``reproml --mongo URL board`` on the live runs: the trials' ``sweep:<ID>`` tag;
* a tag and a note edited in the browser on MongoDB are what ``reproml --mongo URL show`` /
  ``runs --tag`` read, and a tag removed with ``reproml tag`` leaves the table.

``REPROML_SCREENSHOTS=DIR`` saves the tagged runs table as ``DIR/runs_table_tags.png``.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from reproml.runs.annotations import notes_of, tags_of
from reproml.runs.file_store import FileStore
from tests.board import pages
from tests.board.board_process import running_board
from tests.board.conftest import REPO

pytestmark = pytest.mark.slow
SHOTS = Path(os.environ["REPROML_SCREENSHOTS"]) if os.environ.get("REPROML_SCREENSHOTS") else None
SWEEP_ID = "s2"
SWEEP_TAG = f"sweep:{SWEEP_ID}"
SWEEP = [
    "sweep", "experiments.mnist", "quick", "steps=10", "eval_every=5", "log_every=5",
    "export_savedmodel=False", "lr=loguniform(1e-4,1e-2)", "--trials", "2", "--workers", "1",
    "--sampler", "random", "--id", SWEEP_ID,
]  # fmt: skip
NO_TAGS = "Add Tags..."  # the placeholder of an empty tags cell
NO_NOTES = "Enter Notes"  # the placeholder of an empty notes cell
NOTE = "lr 0.2 <looks> right & stable"  # shown as text, not markup
SHOT_VIEWPORT = {"width": 1720, "height": 640}  # Id ... Status, Tags, Notes in one picture


@dataclasses.dataclass
class Tagged:
    """The module's runs: a file store and the MongoDB database of the live sweep trials."""

    store: Path
    live_url: str
    workdir: Path
    env: dict


def cli(*argv: str, env: dict, cwd: Path) -> str:
    """Run ``reproml ARGV`` in a subprocess as a user does; return its stdout (exit 0 required)."""
    result = subprocess.run(
        [sys.executable, "-m", "reproml.cli.main", *argv],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, f"reproml {argv}: {result.stderr[-3000:]}{result.stdout}"
    return result.stdout


@pytest.fixture(scope="module")
def tagged(tmp_path_factory, mongo_server, omniboard_script) -> Tagged:
    """A 2-trial sweep (file store + live MongoDB) and two toy runs, tagged with ``reproml tag``."""
    from tests.mongo_server import database_url

    workdir = tmp_path_factory.mktemp("tagged")
    store = workdir / "runs"
    live_url = database_url(mongo_server, "tags")
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "REPROML_RUNS_DIR": str(store),
        "REPROML_MONGO_URL": live_url,
        "TF_CPP_MIN_LOG_LEVEL": "3",
    }
    words = [*SWEEP[:3], f"dataset.data_dir={workdir / 'records'}", *SWEEP[3:]]
    out = cli(*words, env=env, cwd=workdir)
    assert "2 of 2 trials finished" in out, out
    for lr in ("0.2", "0.3"):  # toy runs: in the file store only
        argv = [sys.executable, "-m", "tests.board.toy_experiment", "-F", str(store)]
        subprocess.run([*argv, "with", f"lr={lr}"], cwd=REPO, capture_output=True, check=True)
    runs, warnings = FileStore(store).list_runs()
    assert len(runs) == 4 and not warnings, (runs, warnings)
    trials = [r for r in runs if r.experiment == "mnist"]
    toys = [r for r in runs if r.experiment == "toy_review"]
    assert len(trials) == 2 and len(toys) == 2, runs
    file_env = {k: v for k, v in env.items() if k != "REPROML_MONGO_URL"}
    on_store = ("--store", str(store))
    cli(*on_store, "tag", trials[0].run_id, "best", env=file_env, cwd=workdir)
    cli(*on_store, "tag", toys[0].run_id, "baseline", "lr-0.2", "--note", NOTE, env=file_env, cwd=workdir)  # fmt: skip
    # toys[1] keeps no tags and no note: the table shows the placeholders.
    return Tagged(store, live_url, workdir, file_env)


@pytest.fixture(scope="module")
def store_board(tagged, tmp_path_factory):
    """``reproml --store RUNS board``: the file store pushed into the board's database."""
    log = tmp_path_factory.mktemp("tags-board-log") / "board.err"
    with running_board(["--store", str(tagged.store), "board"], log, env=tagged.env) as board:
        yield board.url


@pytest.fixture(scope="module")
def live_board(tagged, tmp_path_factory):
    """``reproml --mongo URL board`` on the sweep trials recorded live."""
    log = tmp_path_factory.mktemp("tags-live-log") / "board.err"
    args = ["--mongo", tagged.live_url, "board"]
    with running_board(args, log, env=tagged.env) as board:
        yield board.url


@pytest.fixture
def browser_context(browser):
    """``new_page(viewport)``: pages of one context; fails the test on any page error."""
    contexts, errors = [], []

    def new_page(viewport=pages.VIEWPORT):
        context = browser.new_context(viewport=viewport)
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda err: errors.append(str(err)))
        return page

    yield new_page
    for context in contexts:
        context.close()
    assert errors == [], errors


def shown_annotations(page, base: str, n_rows: int) -> dict[str, tuple[str, str]]:
    """Open the runs table; return {run id: (Tags cell text, Notes cell text)} as rendered."""
    rows = pages.open_runs_table(page, base, n_rows)
    assert "Tags" in rows[0] and "Notes" in rows[0], list(rows[0])
    return {row["Id"]: (row["Tags"], row["Notes"]) for row in rows}


def expected_cells(tags: list[str], note: str) -> tuple[str, str]:
    """What Omniboard's Tags and Notes cells render: one chip per line, or the placeholders."""
    return ("\n".join(tags) or NO_TAGS, note or NO_NOTES)


def row_of(page, run_id: str):
    """The runs table's row of `run_id` (rows are ordered by id, descending)."""
    ids = [row["Id"] for row in pages.table_rows(page)]
    return page.locator(pages.ROW).nth(ids.index(str(run_id)))


def live_trials(tagged) -> dict[str, list[str]]:
    """{id: tags} of the live MongoDB's runs, as ``reproml --mongo URL`` reads them."""
    from reproml.runs.mongo_store import open_mongo_store

    store = open_mongo_store(tagged.live_url)
    try:
        runs, _ = store.list_runs()
        return {run.run_id: tags_of(run) for run in runs}
    finally:
        store.db.client.close()


def test_file_store_tags_and_notes_show_in_the_runs_table(tagged, store_board, browser_context):
    runs, _ = FileStore(tagged.store).list_runs()
    page = browser_context()
    shown = shown_annotations(page, store_board, len(runs))
    assert shown == {run.run_id: expected_cells(tags_of(run), notes_of(run)) for run in runs}
    by_tag = {
        tag: sorted(r.run_id for r in runs if tag in tags_of(r)) for tag in ("best", "baseline")
    }
    assert all(len(ids) == 1 for ids in by_tag.values()), by_tag  # `reproml tag` did tag them
    assert shown[by_tag["baseline"][0]] == ("baseline\nlr-0.2", NOTE)
    assert shown[by_tag["best"][0]] == (f"{SWEEP_TAG}\nbest", NO_NOTES)
    if SHOTS is not None:
        page = browser_context(SHOT_VIEWPORT)
        pages.open_runs_table(page, store_board, len(runs))
        notes = page.locator(pages.HEADER_CELL).filter(has_text="Notes").bounding_box()
        last = page.locator(pages.ROW).nth(len(runs) - 1).bounding_box()
        width, height = notes["x"] + notes["width"], last["y"] + last["height"] + 24
        clip = {"x": 0, "y": 0, "width": width, "height": height}
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / "runs_table_tags.png"), clip=clip)


def test_sweep_trials_show_their_sweep_tag_on_both_boards(tagged, store_board, live_board, browser_context):  # fmt: skip
    runs, _ = FileStore(tagged.store).list_runs()
    trials = {run.run_id for run in runs if run.experiment == "mnist"}
    shown = shown_annotations(browser_context(), store_board, len(runs))
    assert {i for i, (tags, _) in shown.items() if SWEEP_TAG in tags.split("\n")} == trials

    live = live_trials(tagged)
    assert len(live) == 2 and all(tags == [SWEEP_TAG] for tags in live.values()), live
    shown = shown_annotations(browser_context(), live_board, len(live))
    assert shown == {run_id: (SWEEP_TAG, NO_NOTES) for run_id in live}


def wait_for(condition, what: str, timeout: float = 30.0):
    """Poll `condition()` until it returns a truthy value; return it (fail naming `what`)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


def add_tag(page, row, tag: str) -> None:
    """Type a new tag into the row's tags cell, create it, wait until the cell shows it."""
    row.locator(".select-cell input").focus()
    page.keyboard.type(tag)
    page.get_by_text(f"Create tag '{tag}'", exact=True).wait_for(timeout=pages.TIMEOUT_MS)
    page.keyboard.press("Enter")
    row.locator(".select-cell").get_by_text(tag, exact=True).wait_for(timeout=pages.TIMEOUT_MS)


def test_tags_and_notes_edited_in_omniboard_reach_reproml(tagged, live_board, browser_context):
    run_id = min(live_trials(tagged), key=int)
    page = browser_context()
    shown_annotations(page, live_board, 2)
    row = row_of(page, run_id)

    add_tag(page, row, "keeper")
    row.locator(".editable-cell [test-attr=edit-button]").click()
    row.locator(".editable-cell textarea").fill("promising: rerun with 2000 steps")
    row.locator(".editable-cell button.editable-submit").click()

    def stored():
        doc = pages.api(live_board, f"Runs/{run_id}")
        omniboard = doc.get("omniboard") or {}
        return omniboard.get("notes") == "promising: rerun with 2000 steps" and omniboard

    omniboard = wait_for(stored, "Omniboard to save the note")
    assert omniboard["tags"] == [SWEEP_TAG, "keeper"]

    on_live = ("--mongo", tagged.live_url)
    shown = cli(*on_live, "show", run_id, env=tagged.env, cwd=tagged.workdir)
    assert f"{SWEEP_TAG}, keeper" in shown and "promising: rerun with 2000 steps" in shown, shown
    listed = cli(*on_live, "runs", "--tag", "keeper", env=tagged.env, cwd=tagged.workdir)
    assert [line.split()[0] for line in listed.splitlines()[2:]] == [run_id], listed

    cli(*on_live, "tag", run_id, "--remove", "keeper", env=tagged.env, cwd=tagged.workdir)
    shown = shown_annotations(page, live_board, 2)
    assert shown[run_id] == (SWEEP_TAG, "promising: rerun with 2000 steps")


def test_tags_edited_on_a_file_store_board_are_saved_to_the_store(
    tagged, browser_context, tmp_path
):
    """The board's database is private: stopping the board writes its edits to omniboard.json."""
    store = tmp_path / "runs"
    shutil.copytree(tagged.store, store, ignore=shutil.ignore_patterns(".board"))
    runs, _ = FileStore(store).list_runs()
    untagged = [r.run_id for r in runs if not tags_of(r) and not notes_of(r)]
    assert len(untagged) == 1, runs
    log = tmp_path / "board.err"
    with running_board(["--store", str(store), "board"], log, env=tagged.env) as board:
        page = browser_context()
        shown_annotations(page, board.url, len(runs))
        add_tag(page, row_of(page, untagged[0]), "keeper")
        doc = wait_for(
            lambda: (pages.api(board.url, f"Runs/{untagged[0]}").get("omniboard") or {}).get(
                "tags"
            ),
            "Omniboard to save the tag",
        )
        assert doc == ["keeper"]
    listed = cli("--store", str(store), "runs", "--tag", "keeper", env=tagged.env, cwd=tmp_path)
    assert [line.split()[0] for line in listed.splitlines()[2:]] == untagged, listed
    assert (
        f"run {untagged[0]}: tags keeper, note - (edited in the board) saved to" in log.read_text()
    )
