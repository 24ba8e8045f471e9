from __future__ import annotations

import csv
import json

import pytest

from reproml.cli.commands.leaderboard import HEADERS


def _table(out: str) -> list[dict[str, str]]:
    """Splits the aligned table at the header's column starts."""
    lines = out.splitlines()
    header, rule = lines[0], lines[1]
    starts, pos = [], 0
    for dashes in rule.split("  "):
        starts.append(pos)
        pos += len(dashes) + 2
    names = [header[s : s + len(d)].strip() for s, d in zip(starts, rule.split("  "), strict=True)]
    rows = []
    for line in lines[2:]:
        line = line.ljust(len(rule))
        cells = [
            line[s : s + len(d)].strip() for s, d in zip(starts, rule.split("  "), strict=True)
        ]
        rows.append(dict(zip(names, cells, strict=True)))
    return rows


def test_leaderboard_has_one_aligned_row_per_run_with_the_documented_columns(world, cli):
    code, out, err = cli("--store", world.store, "leaderboard")
    assert code == 0, err
    lines = out.splitlines()
    assert len({len(line.rstrip()) <= len(lines[1]) for line in lines}) == 1  # fits the rule
    rows = _table(out)
    assert [r["id"] for r in rows] == ["1", "2", "3", "4"]
    first = rows[0]
    accuracy = json.loads((world.store / "1" / "metrics.json").read_text())["eval.accuracy"]
    assert first["accuracy"] == f"{accuracy['values'][-1]:.4g}"
    assert first["dataset"] == "toy-digits"
    assert first["fingerprint"] == world.fingerprint[:8]
    assert (first["model"], first["lr"], first["optimizer"]) == ("tiny_linear", "0.1", "sgd")
    assert (first["batch"], first["steps"], first["frechet"]) == ("4", "6", "-")
    assert rows[1]["commit"].endswith("+dirty") and not rows[0]["commit"].endswith("+dirty")
    gan = rows[2]
    assert gan["accuracy"] == "-" and float(gan["frechet"]) > 0


def test_leaderboard_sorts_by_any_column_with_missing_values_last(world, cli):
    _, out, _ = cli("--store", world.store, "leaderboard", "--sort", "accuracy", "--desc")
    rows = _table(out)
    accuracies = [float(r["accuracy"]) for r in rows if r["accuracy"] != "-"]
    assert accuracies == sorted(accuracies, reverse=True) and len(accuracies) == 2
    assert [r["accuracy"] for r in rows[2:]] == ["-", "-"]
    _, out, _ = cli("--store", world.store, "leaderboard", "--sort", "lr")
    assert [r["lr"] for r in _table(out)] == ["0.0002", "0.1", "0.1", "0.3"]
    _, out, _ = cli("--store", world.store, "leaderboard", "--sort", "optimizer", "--desc")
    assert [r["optimizer"] for r in _table(out)] == ["sgd", "sgd", "rmsprop", "adam"]


def test_leaderboard_filters_and_writes_csv(world, cli, tmp_path):
    path = tmp_path / "board.csv"
    code, out, _ = cli(
        "--store",
        world.store,
        "leaderboard",
        "--experiment",
        "toy",
        "--status",
        "completed",
        "--csv",
        path,
    )
    assert code == 0
    assert [r["id"] for r in _table(out)] == ["1", "2"]
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == list(HEADERS)
    metrics = json.loads((world.store / "2" / "metrics.json").read_text())
    assert float(rows[1]["accuracy"]) == metrics["eval.accuracy"]["values"][-1]  # full precision
    assert rows[1]["frechet"] == ""


@pytest.mark.parametrize("column", ["nope", "result!"])
def test_leaderboard_rejects_an_unknown_sort_column(world, cli, column):
    code, out, err = cli("--store", world.store, "leaderboard", "--sort", column)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and repr(column) in err and "accuracy" in err


def test_leaderboard_from_mongodb_matches_the_file_store(world, cli, no_mongo_env):
    _, file_out, _ = cli("--store", world.store, "leaderboard")
    code, mongo_out, err = cli("--mongo", world.mongo_url, "leaderboard")
    assert code == 0, err
    assert mongo_out == file_out
