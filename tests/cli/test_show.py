from __future__ import annotations

import json

from tests.cli.conftest import COMMIT


def _section(out: str, title: str) -> dict[str, str]:
    """Parses the ``key  value`` lines under a section title of `show`."""
    lines = out.splitlines()
    start = lines.index(title) + 1
    pairs = {}
    for line in lines[start:]:
        if not line.startswith("  "):
            break
        key, _, value = line.strip().partition("  ")
        pairs[key] = value.strip()
    return pairs


def _block(out: str, title: str) -> list[str]:
    lines = out.splitlines()
    start = lines.index(title) + 1
    block = []
    for line in lines[start:]:
        if not line.startswith("  "):
            break
        block.append(line)
    return block


def test_show_prints_config_dataset_code_metrics_and_artifacts(world, cli):
    code, out, err = cli("--store", world.store, "show", "2")
    assert code == 0, err
    assert out.splitlines()[0] == "run 2"
    config = json.loads((world.store / "2" / "config.json").read_text())
    shown = _section(out, "config")
    assert shown["lr"] == "0.3" == str(config["lr"])
    assert shown["optimizer"] == "adam"
    assert shown["seed"] == "12"
    dataset = _section(out, "dataset")
    assert dataset["fingerprint"] == world.fingerprint
    assert dataset["record_dir"] == str(world.record_dir)
    assert dataset["source.kind"] == "toy"
    code_section = _section(out, "code")
    assert code_section == {
        "commit": COMMIT,
        "dirty": "yes",
        "diff_artifact": "code.diff",
        "repo": "-",  # the toy experiments record no checkout, no file hashes
        "files": "-",
        "untracked": "-",
    }
    metrics = json.loads((world.store / "2" / "metrics.json").read_text())
    final = {row[0]: row[1:] for row in (line.split() for line in _block(out, "final metrics")[2:])}
    last_accuracy = metrics["eval.accuracy"]["values"][-1]
    assert final["eval.accuracy"] == [f"{last_accuracy:.4g}", "6"]
    assert set(final) == set(metrics)
    assert "code.diff" in _section(out, "artifacts")


def test_show_of_a_failed_run_names_the_failure(world, cli):
    code, out, _ = cli("--store", world.store, "show", "4")
    assert code == 0
    assert _section(out, "run 4")["status"] == "FAILED"
    assert "RuntimeError: loss diverged at step 6" in out


def test_show_reads_the_same_run_from_mongodb(world, cli, no_mongo_env):
    _, file_out, _ = cli("--store", world.store, "show", "2")
    code, mongo_out, err = cli("--mongo", world.mongo_url, "show", "2")
    assert code == 0, err
    for title in ("config", "dataset", "code", "final metrics", "artifacts"):
        assert _block(mongo_out, title) == _block(file_out, title), title
