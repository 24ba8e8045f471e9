"""The CLI on runs made by the real experiments/mnist.py quick config (about 30 s in all)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from reproml.runs import reproduce
from reproml.runs.code_state import CodeState
from reproml.tracking import recording as run_record
from tests.cli.test_leaderboard import _table
from tests.cli.test_reproduce import _verdicts

pytestmark = pytest.mark.slow

# Colleagues edit the shared checkout while tests run, so the git state both the run and
# `reproduce` see is pinned here (record_code and reproduce both read it through
# reproml.runs.code_state); the sha256 check of the files a run depended on is tested on a
# checkout of its own in tests/cli/test_reproduce_code.py.
REPO = Path(__file__).resolve().parents[2]
CODE = CodeState(
    "c0ffee" + "1" * 34, b"diff --git a/experiments/mnist.py b/experiments/mnist.py\n-x\n+y\n", REPO
)


def _pin(patch, code: CodeState) -> None:
    patch.setattr(run_record, "current_code_state", lambda repo_dir: code)
    patch.setattr(reproduce, "code_state", lambda repo: code)
    patch.setattr(reproduce, "changed_files", lambda repo, recorded: [])


@pytest.fixture(scope="module")
def mnist_store(tmp_path_factory):
    """One quick MNIST run (digits fallback, no download) recorded in a private file store."""
    from experiments.mnist import ex

    root = tmp_path_factory.mktemp("mnist")
    patch = pytest.MonkeyPatch()
    patch.setenv("REPROML_RUNS_DIR", str(root / "runs"))
    patch.delenv("REPROML_MONGO_URL", raising=False)
    _pin(patch, CODE)
    try:
        ex.run(
            named_configs=["quick"],
            config_updates={"dataset.data_dir": str(root / "records"), "export_savedmodel": False},
        )
        yield root
    finally:
        patch.undo()


@pytest.fixture
def pinned_code(monkeypatch):
    _pin(monkeypatch, CODE)
    monkeypatch.delenv("REPROML_MONGO_URL", raising=False)


def test_leaderboard_and_show_read_a_real_mnist_run(mnist_store, cli):
    store = mnist_store / "runs"
    code, out, err = cli("--store", store, "leaderboard")
    assert code == 0, err
    (row,) = _table(out)
    metrics = json.loads((store / "1" / "metrics.json").read_text())
    config = json.loads((store / "1" / "config.json").read_text())
    manifest = json.loads((mnist_store / "records" / "manifest.json").read_text())
    assert row["experiment"] == "mnist" and row["status"] == "COMPLETED"
    assert row["dataset"] == "sklearn-digits" and row["fingerprint"] == manifest["fingerprint"][:8]
    assert (row["model"], row["optimizer"]) == (config["network"], config["optimizer"])
    assert (row["batch"], row["steps"]) == (str(config["batch_size"]), str(config["steps"]))
    assert row["accuracy"] == f"{metrics['eval.accuracy']['values'][-1]:.4g}"
    assert row["recall"] == f"{metrics['eval.mean_recall']['values'][-1]:.4g}"
    assert row["commit"] == "c0ffee11+dirty"
    code, out, _ = cli("--store", store, "show", "1")
    assert code == 0
    assert ["fingerprint", manifest["fingerprint"]] in [line.split() for line in out.splitlines()]
    assert "  confusion_matrix.png" in out.splitlines() and "  code.diff" in out.splitlines()
    code_lines = [line.split(None, 1) for line in out.splitlines() if line.startswith("  ")]
    assert ["repo", str(REPO)] in code_lines  # the checkout reproduce checks and re-runs
    files = json.loads((store / "1" / "info.json").read_text())["code"]["files"]
    assert "experiments/mnist.py" in files and "reproml/records/reader.py" in files
    assert ["files", f"{len(files)} files (sha256 recorded; reproduce checks them)"] in code_lines
    (read,) = json.loads((store / "1" / "info.json").read_text())["records_read"]
    verified = next(line for kind, line in code_lines if kind == "verified")
    assert verified.strip() == (
        f"sha256 of 6 shards ({read['bytes']:,} bytes) in {read['seconds']} s before reading, "
        f"{read['seconds_at_end']} s at the end"
    )


def test_a_quick_mnist_run_reproduces_exactly(mnist_store, cli, pinned_code):
    store = mnist_store / "runs"
    code, out, err = cli("--store", store, "reproduce", "1")
    assert code == 0, err
    verdicts = _verdicts(out)
    assert verdicts.pop("train.steps_per_sec") == "timing, not compared"
    assert {"result", "eval.accuracy", "eval.loss", "train.loss"} <= set(verdicts)
    assert set(verdicts.values()) == {"exact"}
    assert out.splitlines()[-1] == "run 1 reproduced exactly"
    new_run = out.splitlines()[0].rsplit(" ", 1)[-1]
    info = json.loads((store / new_run / "info.json").read_text())
    assert info["reproduces"] == "1"
    code, out, _ = cli("--store", store, "compare", "1", new_run)
    assert code == 0
    assert "config:\n  (identical)" in out


def test_reproducing_refuses_when_the_mnist_code_or_records_changed(
    mnist_store, cli, pinned_code, monkeypatch
):
    store = mnist_store / "runs"
    _pin(monkeypatch, CodeState(CODE.commit, CODE.diff + b"+z\n", REPO))
    code, _, err = cli("--store", store, "reproduce", "1")
    assert code == 2
    assert "uncommitted changes differ" in err and "experiments/mnist.py" in err
    _pin(monkeypatch, CODE)
    shard = sorted((mnist_store / "records").glob("train-*.tfrecord"))[0]
    original = shard.read_bytes()
    try:
        shard.write_bytes(original[:-1] + bytes([original[-1] ^ 1]))
        code, _, err = cli("--store", store, "reproduce", "1")
    finally:
        shard.write_bytes(original)
    assert code == 2 and "refusing to reproduce run 1: records: " in err and shard.name in err


def test_pushed_mnist_runs_read_back_the_same(mnist_store, cli, mongo_db, no_mongo_env):
    store = mnist_store / "runs"
    url, _ = mongo_db
    code, _, err = cli("push", store, "--mongo", url)
    assert code == 0, err
    for command in (["runs"], ["leaderboard"]):
        _, file_out, _ = cli("--store", store, *command)
        _, mongo_out, _ = cli("--mongo", url, *command)
        assert mongo_out == file_out


def _tree(root: Path) -> dict[str, str]:
    """``{relative path: sha256}`` of every file under `root`."""
    import hashlib

    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_reproducing_a_run_that_set_model_dir_never_touches_that_dir(
    mnist_store, cli, pinned_code, monkeypatch, tmp_path
):
    from experiments.mnist import ex

    store, model_dir = tmp_path / "runs", tmp_path / "my model"
    monkeypatch.setenv("REPROML_RUNS_DIR", str(store))
    ex.run(
        named_configs=["quick"],
        config_updates={
            "dataset.data_dir": str(mnist_store / "records"),
            "export_savedmodel": False,
            "model_dir": str(model_dir),
        },
    )
    before = _tree(model_dir)
    assert any(name.startswith("model.ckpt-30") for name in before)
    code, out, err = cli("--store", store, "reproduce", "1")
    assert code == 0, out + err
    assert out.splitlines()[-1] == "run 1 reproduced exactly"
    assert set(_verdicts(out).values()) <= {"exact", "timing, not compared"}
    assert _tree(model_dir) == before  # not one byte read-modified, added or removed
    info = json.loads((store / "2" / "info.json").read_text())
    assert info["model_dir"] == str(store / "2" / "model") and "resumed_from_step" not in info
    assert info["reproduce_overrides"] == {"model_dir": str(model_dir)}
    assert (
        f"model_dir: the re-run trained in {store / '2' / 'model'} (run 1's {model_dir} was not "
        "read nor written)"
    ) in out.splitlines()
    # (the packages may change meanwhile: colleagues install into the shared venv)
    assert out.splitlines()[-2].startswith("environment")


def test_reproduce_force_of_changed_records_fails_naming_the_shard(
    mnist_store, cli, pinned_code, tmp_path
):
    # A private copy of the store and records (the module's are shared): run 1 now reads the copy.
    store, records = tmp_path / "runs", tmp_path / "records"
    shutil.copytree(mnist_store / "runs" / "1", store / "1")
    shutil.copytree(mnist_store / "records", records, ignore=shutil.ignore_patterns(".readers"))
    for name, keys in (
        ("config.json", ("dataset", "data_dir")),
        ("info.json", ("dataset", "record_dir")),
    ):
        record = json.loads((store / "1" / name).read_text())
        record[keys[0]][keys[1]] = str(records)
        (store / "1" / name).write_text(json.dumps(record))
    # The re-pointed copy is no longer the sealed record (reproduce would refuse it as edited):
    # drop its seal, as a record made before seals were, to test the records check alone.
    (store / "1" / "seal.json").unlink()
    shard = records / "train-00002.tfrecord"
    data = bytearray(shard.read_bytes())
    data[len(data) // 2] ^= 0xFF
    shard.write_bytes(bytes(data))
    code, out, err = cli("--store", store, "reproduce", "1", "--force")
    assert code != 0
    assert f"{shard}: has sha256 " in err  # the re-run stops before training, naming it
    runs = [p for p in store.iterdir() if p.name.isdigit()]
    statuses = {p.name: json.loads((p / "run.json").read_text())["status"] for p in runs}
    assert statuses == {"1": "COMPLETED", "2": "FAILED"}
