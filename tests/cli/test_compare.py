from __future__ import annotations

import json


def _block(out: str, title: str) -> list[list[str]]:
    lines = out.splitlines()
    start = lines.index(title) + 1
    block = []
    for line in lines[start:]:
        if not line.startswith("  "):
            break
        block.append(line.split())
    return block


def test_compare_shows_config_metric_dataset_and_code_differences(world, cli):
    code, out, err = cli("--store", world.store, "compare", "1", "2")
    assert code == 0, err
    config = {row[0]: row[1:] for row in _block(out, "config:")[2:]}
    assert config == {
        "batch_size": ["4", "8"],
        "lr": ["0.1", "0.3"],
        "optimizer": ["sgd", "adam"],
        "seed": ["11", "12"],
    }
    provenance = {row[0]: row[1:] for row in _block(out, "dataset and code:")[2:]}
    assert provenance["code.dirty"] == ["no", "yes"]
    assert provenance["code.diff"] == ["empty", "3", "lines", "in", "experiments/toy.py"]
    assert "dataset.fingerprint" not in provenance  # same records
    metrics = {row[0]: row[1:] for row in _block(out, "final metrics:")[2:]}
    m1 = json.loads((world.store / "1" / "metrics.json").read_text())
    m2 = json.loads((world.store / "2" / "metrics.json").read_text())
    a, b = m1["eval.accuracy"]["values"][-1], m2["eval.accuracy"]["values"][-1]
    assert metrics["eval.accuracy"] == [f"{a:.4g}", f"{b:.4g}", f"{b - a:.4g}"]


def test_compare_of_a_run_with_itself_is_identical(world, cli):
    code, out, _ = cli("--store", world.store, "compare", "3", "3")
    assert code == 0
    assert _block(out, "config:") == [["(identical)"]]
    assert _block(out, "dataset and code:") == [["(identical)"]]
    deltas = {row[0]: row[-1] for row in _block(out, "final metrics:")[2:]}
    assert deltas["eval.frechet_distance"] == "0" and deltas["train.loss"] == "0"


def test_compare_across_experiments_and_in_mongodb(world, cli, no_mongo_env):
    _, file_out, _ = cli("--store", world.store, "compare", "1", "3")
    code, mongo_out, _ = cli("--mongo", world.mongo_url, "compare", "1", "3")
    assert code == 0 and mongo_out == file_out
    provenance = {row[0]: row[1:] for row in _block(file_out, "dataset and code:")[2:]}
    assert provenance["experiment"] == ["toy", "toy_gan"]
    assert provenance["model"] == ["tiny_linear", "toy_dcgan"]
    metrics = {row[0]: row[1:] for row in _block(file_out, "final metrics:")[2:]}
    assert metrics["eval.accuracy"][1] == "-" and metrics["eval.frechet_distance"][0] == "-"
