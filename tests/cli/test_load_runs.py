"""`reproml.load_runs` / `load_metrics`: the runs of both stores as DataFrames, the CLI's numbers."""

from __future__ import annotations

import csv
import json
import math
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import reproml
from reproml.errors import MongoUnreachableError, ReproMLError
from reproml.runs.frames import RUN_COLUMNS, UnreadableRunWarning
from tests.doc_blocks import python_blocks, run_blocks

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(params=["file", "mongo"])
def location(request, world, no_mongo_env):
    """The world's store: its runs directory, or the MongoDB URL its runs were recorded in."""
    return str(world.store) if request.param == "file" else world.mongo_url


def _leaderboard_csv(cli, location, tmp_path) -> list[dict[str, str]]:
    flag = "--mongo" if location.startswith("mongodb://") else "--store"
    path = tmp_path / "board.csv"
    code, _, err = cli(flag, location, "leaderboard", "--csv", path)
    assert code == 0, err
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def _number(cell: str) -> float:
    return float(cell) if cell else math.nan


def test_load_runs_has_the_leaderboards_numbers(world, cli, location, tmp_path):
    board = _leaderboard_csv(cli, location, tmp_path)
    runs = reproml.load_runs(location)
    assert list(runs.columns[: len(RUN_COLUMNS)]) == list(RUN_COLUMNS)
    assert list(runs["id"]) == [row["id"] for row in board] == ["1", "2", "3", "4"]
    assert list(runs["experiment"]) == [row["experiment"] for row in board]
    assert list(runs["status"]) == [row["status"] for row in board]
    assert list(runs["status"]) == ["COMPLETED", "COMPLETED", "COMPLETED", "FAILED"]
    for column, board_column in [
        ("metrics.eval.accuracy", "accuracy"),
        ("metrics.eval.mean_precision", "precision"),
        ("metrics.eval.mean_recall", "recall"),
        ("metrics.eval.frechet_distance", "frechet"),
        ("config.lr", "lr"),
        ("config.batch_size", "batch"),
        ("config.steps", "steps"),
    ]:
        expected = [_number(row[board_column]) for row in board]
        assert list(runs[column].astype(float)) == pytest.approx(expected, nan_ok=True), column
    assert list(runs["config.optimizer"]) == [row["optimizer"] for row in board]
    assert [f[:8] for f in runs["fingerprint"]] == [row["fingerprint"] for row in board]
    assert set(runs["fingerprint"]) == {world.fingerprint}
    commits = zip(runs["commit"], runs["dirty"], strict=True)
    assert [c[:8] + ("+dirty" if d else "") for c, d in commits] == [r["commit"] for r in board]
    assert list(runs["seed"]) == [11, 12, 13, 14]
    gan = runs.set_index("id").loc["3"]
    assert gan["result"] == pytest.approx(gan["metrics.eval.frechet_distance"])
    assert not any(c.startswith("config.__doc__") or ".__doc__" in c for c in runs.columns)


def test_both_stores_give_the_same_frames(world, no_mongo_env):
    from_files = reproml.load_runs(world.store)
    from_mongo = reproml.load_runs(world.mongo_url)
    pd.testing.assert_frame_equal(from_files, from_mongo)
    pd.testing.assert_frame_equal(
        reproml.load_metrics(world.store), reproml.load_metrics(world.mongo_url)
    )


def test_load_metrics_is_every_logged_value(world, location):
    history = reproml.load_metrics(location)
    assert list(history.columns) == ["run", "experiment", "metric", "step", "value", "timestamp"]
    stored = json.loads((world.store / "2" / "metrics.json").read_text())
    loss = history[(history["run"] == "2") & (history["metric"] == "train.loss")]
    assert list(loss["step"]) == stored["train.loss"]["steps"]
    assert list(loss["value"]) == stored["train.loss"]["values"]
    assert loss["timestamp"].is_monotonic_increasing and loss["timestamp"].notna().all()
    # The last value of every series is the final metric load_runs shows.
    runs = reproml.load_runs(location).set_index("id")
    last = history.groupby(["run", "metric"])["value"].last()
    for (run, metric), value in last.items():
        assert runs.loc[run, f"metrics.{metric}"] == value
    accuracy = reproml.load_metrics(location, metric="eval.accuracy")
    assert set(accuracy["metric"]) == {"eval.accuracy"} and set(accuracy["run"]) == {"1", "2"}


def test_filters_by_experiment_and_status(location):
    runs = reproml.load_runs(location, experiment="toy", status="completed")
    assert list(runs["id"]) == ["1", "2"]
    assert set(reproml.load_metrics(location, experiment="toy_gan")["run"]) == {"3"}
    assert list(reproml.load_runs(location, status="failed")["id"]) == ["4"]
    assert list(reproml.load_runs(location, experiment="nothing").columns) == list(RUN_COLUMNS)


def test_tags_and_note_are_read_from_the_runs_annotations(world, cli, store_copy):
    assert cli("--store", store_copy, "tag", "2", "baseline", "lr-sweep")[0] == 0
    assert cli("--store", store_copy, "tag", "2", "--note", "the lr=0.3 try")[0] == 0
    runs = reproml.load_runs(store_copy).set_index("id")
    assert runs.loc["2", "tags"] == ["baseline", "lr-sweep"] and runs.loc["1", "tags"] == []
    assert runs.loc["2", "note"] == "the lr=0.3 try"
    assert list(reproml.load_runs(store_copy)["id"]) == ["1", "2", "3", "4"]


def test_a_corrupt_run_is_one_warning_and_the_others_load(store_copy):
    (store_copy / "2" / "config.json").write_text("{not json")
    with pytest.warns(UnreadableRunWarning, match=r"run 2: .*config\.json"):
        runs = reproml.load_runs(store_copy)
    assert list(runs["id"]) == ["1", "3", "4"]


def test_a_metric_series_of_unequal_lengths_is_refused(store_copy):
    path = store_copy / "1" / "metrics.json"
    metrics = json.loads(path.read_text())
    metrics["train.loss"]["steps"].pop()
    path.write_text(json.dumps(metrics))
    with pytest.raises(ReproMLError, match=r"run 1 .*'train\.loss'.* steps"):
        reproml.load_metrics(store_copy)


def test_a_store_that_is_not_there_is_one_clear_error(tmp_path, no_mongo_env):
    with pytest.raises(ReproMLError, match=r"nowhere.*not a directory.*mongodb://"):
        reproml.load_runs(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ReproMLError, match="holds no runs"):
        reproml.load_runs(tmp_path / "empty")
    with pytest.raises(MongoUnreachableError, match="not a MongoDB URL"):
        reproml.load_runs("mongodb://:@/")


def test_import_reproml_does_not_import_pandas_until_load_runs_is_used():
    # (Sacred itself imports pandas when it is installed, sacred.optional: any module importing
    # sacred, reproml.errors included, pays for it; `import reproml` alone does not.)
    probe = (
        "import sys, reproml\n"
        "print('pandas' in sys.modules)\n"
        "reproml.load_runs\n"
        "print('pandas' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout
    assert out.split() == ["False", "True"]


def test_the_docs_blocks_run_as_written(world, monkeypatch, capsys):
    monkeypatch.chdir(world.store.parent)  # the store is ./runs, as in the docs
    namespace = run_blocks(python_blocks("docs/notebooks.md"), "notebooks")
    out = capsys.readouterr().out
    assert "metrics.eval.accuracy" in out and "config.optimizer" in out
    assert list(namespace["history"]["metric"].unique()) == ["eval.accuracy"]
