"""`reproduce` on toy runs: exact match, refusal when records or code differ, --force, MongoDB."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import gridfs
import pytest

from reproml.runs import reproduce
from reproml.runs.code_state import CodeState
from tests.cli.conftest import COMMIT, DIFF
from tests.cli.toy_experiments import make_classifier_experiment, write_toy_records


@pytest.fixture
def code_now(monkeypatch, world):
    """The code state `reproduce` sees; starts equal to what run 1 recorded."""
    state = {"now": CodeState(COMMIT, b"")}
    monkeypatch.setattr(reproduce, "code_state", lambda repo: state["now"])
    monkeypatch.setattr(
        reproduce,
        "experiment_loader",
        lambda original, repo: world.experiments[original.experiment],
    )
    return state


def _verdicts(out: str) -> dict[str, str]:
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("metric")) + 2
    rows = {}
    for line in lines[start:]:
        if line.startswith(("run ", "environment")):
            break
        parts = line.split(None, 3)
        rows[parts[0]] = parts[3]
    return rows


def test_a_deterministic_run_reproduces_exactly_and_is_recorded(store_copy, cli, code_now):
    code, out, err = cli("--store", store_copy, "reproduce", "1")
    assert code == 0, err
    assert out.splitlines()[0] == "re-ran run 1 (toy, seed 11) as run 5"
    verdicts = _verdicts(out)
    assert verdicts.pop("train.steps_per_sec") == "timing, not compared"
    assert set(verdicts) == {
        "result",
        "eval.accuracy",
        "eval.loss",
        "eval.mean_precision",
        "eval.mean_recall",
        "train.loss",
    }
    assert set(verdicts.values()) == {"exact"}
    assert out.splitlines()[-1] == "run 1 reproduced exactly"
    info = json.loads((store_copy / "5" / "info.json").read_text())
    assert info["reproduces"] == "1"
    assert json.loads((store_copy / "5" / "config.json").read_text()) == json.loads(
        (store_copy / "1" / "config.json").read_text()
    )
    _, shown, _ = cli("--store", store_copy, "show", "5")
    assert "  reproduces  1" in shown.splitlines()


def test_a_dirty_run_reproduces_when_the_same_diff_is_applied(store_copy, cli, code_now):
    code_now["now"] = CodeState(COMMIT, DIFF)
    code, out, _ = cli("--store", store_copy, "reproduce", "2")
    assert code == 0 and out.splitlines()[-1] == "run 2 reproduced exactly"


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (
            CodeState("9" * 40, b""),
            "commit differs: recorded 3f1c2a9b7e00, checked out 999999999999",
        ),
        (
            CodeState(COMMIT, DIFF),
            "uncommitted changes differ: recorded diff empty, now 3 lines in experiments/toy.py",
        ),
    ],
)
def test_changed_code_makes_it_refuse(store_copy, cli, code_now, now, expected):
    code_now["now"] = now
    code, out, err = cli("--store", store_copy, "reproduce", "1")
    assert code == 2 and out == ""
    assert (
        err == f"reproml reproduce: error: refusing to reproduce run 1: {expected} "
        f"(checked the checkout {Path(__file__).parent}; pass --force to run anyway)\n"
    )
    assert not (store_copy / "5").exists()  # nothing was run


def _private_records(store, tmp_path, run_id):
    """Copy the records and point run `run_id` at the copy; returns the copy."""
    info_path = store / run_id / "info.json"
    info = json.loads(info_path.read_text())
    copy = tmp_path / "records-copy"
    shutil.copytree(info["dataset"]["record_dir"], copy)
    info["dataset"]["record_dir"] = str(copy)
    info_path.write_text(json.dumps(info))
    return copy


def test_reserialized_records_make_it_refuse(store_copy, cli, code_now, tmp_path):
    records = _private_records(store_copy, tmp_path, "1")
    write_toy_records(records, payload=b"other rows" * 8)
    code, _, err = cli("--store", store_copy, "reproduce", "1")
    assert code == 2
    assert "refusing to reproduce run 1: dataset fingerprint differs: recorded" in err
    assert f"{records} has" in err


def test_a_shard_changed_behind_the_manifest_makes_it_refuse(store_copy, cli, code_now, tmp_path):
    records = _private_records(store_copy, tmp_path, "1")
    shard = records / "train-00000.tfrecord"
    shard.write_bytes(shard.read_bytes()[::-1])  # same size, same manifest, other bytes
    code, _, err = cli("--store", store_copy, "reproduce", "1")
    assert code == 2
    assert "refusing to reproduce run 1: records: " in err and str(shard) in err


def test_force_runs_anyway_and_reports_what_did_not_reproduce(
    store_copy, cli, code_now, world, monkeypatch
):
    changed = make_classifier_experiment(
        world.record_dir, world.store.parent, lambda: code_now["now"], accuracy_offset=0.125
    )
    monkeypatch.setattr(reproduce, "experiment_loader", lambda original, repo: changed)
    code_now["now"] = CodeState(COMMIT, DIFF)
    code, out, err = cli("--store", store_copy, "reproduce", "1", "--force")
    assert code == 1
    assert err.startswith("warning: --force: uncommitted changes differ")
    verdicts = _verdicts(out)
    assert verdicts["eval.accuracy"] == "DIFFERS by +0.125"
    assert verdicts["result"] == "DIFFERS by +0.125"
    assert verdicts["train.loss"] == "exact"  # the change only touched the accuracy
    assert out.splitlines()[-1] == "run 1 did NOT reproduce exactly"


def test_reproduce_records_the_rerun_in_mongodb(world, cli, code_now, mongo_db, no_mongo_env):
    url, db = mongo_db
    for name in ("runs", "metrics", "fs.files", "fs.chunks"):
        docs = list(world.db[name].find())
        if docs:
            db[name].insert_many(docs)
    code, out, err = cli("--mongo", url, "reproduce", "3")
    assert code == 0, err
    assert out.splitlines()[0] == "re-ran run 3 (toy_gan, seed 13) as run 5"
    assert _verdicts(out)["eval.frechet_distance"] == "exact"
    doc = db.runs.find_one({"_id": 5})
    assert doc["info"]["reproduces"] == "3" and doc["status"] == "COMPLETED"
    assert gridfs.GridFS(db).get(doc["artifacts"][0]["file_id"]).read() == b""


def test_exact_means_the_whole_series_not_only_the_final_value():
    from reproml.runs.record import RunRecord

    def record(run_id, losses, accuracy):
        return RunRecord(
            run_id,
            "toy",
            "COMPLETED",
            None,
            None,
            None,
            accuracy,
            {},
            {},
            {
                "train.loss": {"steps": [1, 2, 3], "values": losses},
                "eval.accuracy": {"steps": [3], "values": [accuracy]},
                "train.steps_per_sec": {"steps": [3], "values": [float(run_id)]},
            },
            [],
            "",
            {},
        )

    rows, exact = reproduce.metric_report(
        record("1", [3.0, 2.0, 1.0], 0.5), record("2", [3.0, 2.5, 1.0], 0.5)
    )
    verdicts = {name: verdict for name, _, _, verdict in rows}
    assert verdicts == {
        "result": "exact",
        "eval.accuracy": "exact",
        "train.loss": "final value exact, earlier values DIFFER",
        "train.steps_per_sec": "timing, not compared",
    }
    assert exact is False
    _, exact = reproduce.metric_report(
        record("1", [3.0, 2.0, 1.0], 0.5), record("3", [3.0, 2.0, 1.0], 0.5)
    )
    assert exact is True


def test_tolerance_flags_are_refused_for_a_run_compared_exactly(store_copy, cli, code_now):
    code, out, err = cli("--store", store_copy, "reproduce", "1", "--atol", "0.1")
    assert code == 2 and out == ""
    assert err.strip().splitlines() == [
        "reproml reproduce: error: --rtol/--atol apply to asynchronous parameter-server jobs only; run 1 is "
        "compared exactly: one process with seeded graphs and deterministic ops"
    ]
    code, out, err = cli("--store", store_copy, "reproduce", "1", "--rtol", "-0.5")
    assert (
        code == 2
        and err.strip() == "reproml reproduce: error: --rtol must be a finite number >= 0, got -0.5"
    )
    assert sorted(p.name for p in store_copy.iterdir() if p.name.isdigit()) == ["1", "2", "3", "4"]


def _give_a_freeze(store: Path, run_id: str, text: str) -> None:
    """Add ``pip-freeze.txt`` to run `run_id` of a store copy (the toy runs record none)."""
    (store / run_id / "pip-freeze.txt").write_text(text)
    run_json = store / run_id / "run.json"
    entry = json.loads(run_json.read_text())
    entry["artifacts"].append("pip-freeze.txt")
    run_json.write_text(json.dumps(entry))


def _numpy_line(frozen: str) -> str:
    return next(line for line in frozen.splitlines() if line.startswith("numpy=="))


def test_the_verdict_says_the_environment_is_the_same(store_copy, cli, code_now):
    from reproml.runs.environment import pip_freeze

    _give_a_freeze(store_copy, "1", pip_freeze())
    code, out, _ = cli("--store", store_copy, "reproduce", "1")
    assert code == 0
    assert out.splitlines()[-2:] == ["environment: same as recorded", "run 1 reproduced exactly"]


def test_the_verdict_names_the_packages_that_changed(store_copy, cli, code_now):
    from reproml.runs.environment import pip_freeze

    frozen = pip_freeze()
    numpy = _numpy_line(frozen)
    _give_a_freeze(store_copy, "1", frozen.replace(numpy, "numpy==1.0.0") + "gone-pkg==2.0\n")
    code, out, _ = cli("--store", store_copy, "reproduce", "1")
    assert code == 0  # the metrics still reproduce: the environment line informs
    assert out.splitlines()[-2] == (
        "environment differs from run 1's: 2 packages changed: gone-pkg removed (was 2.0), "
        f"numpy 1.0.0 -> {numpy.split('==')[1]}"
    )


def test_a_run_without_a_freeze_says_packages_were_not_compared(store_copy, cli, code_now):
    code, out, _ = cli("--store", store_copy, "reproduce", "1")
    assert code == 0
    assert out.splitlines()[-2] == (
        "environment: Python as recorded; run 1 recorded no pip-freeze.txt: packages not compared"
    )


def test_a_resumed_run_is_re_run_from_step_0_and_the_report_says_so(store_copy, cli, code_now):
    info_path = store_copy / "1" / "info.json"
    info = json.loads(info_path.read_text())
    info["resumed_from_step"] = 3  # as a run resumed in another run's model dir records it
    info_path.write_text(json.dumps(info))
    code, out, _ = cli("--store", store_copy, "reproduce", "1")
    assert code == 0
    assert (
        f"note: run 1 resumed from step 3 of the checkpoints in {info['model_dir']}; the re-run "
        "trains from step 0, so a series that differs may be that resumption, not the code"
    ) in out.splitlines()
