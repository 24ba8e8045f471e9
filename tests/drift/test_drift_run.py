"""The drift command end to end on the digits: a tracked run linked to the training run.

One tiny training run (20 steps), the scenario written by the ``scenario`` command, the report
by the ``drift`` command; then the serving signature, the false-alarm rate and the CLI.
"""

import json
import re
from pathlib import Path

import numpy as np
import pytest

from experiments.mnist import ex
from reproml.drift.embeddings import embed_images, embed_saved_model, read_split
from reproml.drift.monitor import assign_windows, drift_report
from reproml.drift.scenario import build_scenario, degraded_windows
from reproml.errors import ConfigError
from reproml.models.classifier import make_classifier
from reproml.models.data_contract import classifier_params_from_manifest
from reproml.records.manifest import load_manifest
from tests.drift.conftest import CLEAN, DEGRADED, SCENARIO

pytestmark = pytest.mark.slow


def _run(command, training_run, monkeypatch, **updates):
    _, data_dir, store = training_run
    monkeypatch.setenv("REPROML_RUNS_DIR", str(store))
    config = {"dataset.data_dir": str(data_dir), "dataset.max_examples": None, **updates}
    return ex.run(command, config_updates=config, named_configs=["quick"])


@pytest.fixture(scope="module")
def drift_result(training_run, tmp_path_factory):
    """The scenario (command `scenario`) and its drift report (command `drift`)."""
    train, _, _ = training_run
    scenario_dir = tmp_path_factory.mktemp("scenario") / "records"
    mp = pytest.MonkeyPatch()
    try:
        settings = {f"drift.scenario.{k}": v for k, v in SCENARIO.items()}
        settings["drift.scenario.data_dir"] = str(scenario_dir)
        _run("scenario", training_run, mp, **settings)
        run = _run(
            "drift",
            training_run,
            mp,
            model_dir=train.info["model_dir"],
            **{
                "drift.production": str(scenario_dir),
                "drift.baseline_dir": str(scenario_dir),
                "drift.baseline": "baseline",
            },
        )
    finally:
        mp.undo()
    return run, scenario_dir


def test_report_flags_exactly_the_degraded_windows_in_a_run_linked_to_training(
    drift_result, training_run
):
    run, scenario_dir = drift_result
    train, _, _ = training_run
    assert degraded_windows(load_manifest(scenario_dir)) == DEGRADED
    assert run.result == {"flagged_windows": DEGRADED, "windows": 8}
    assert run.info["monitors"] == str(train._id)
    drift = run.info["drift"]
    assert drift["checkpoint_from"] == f"best_checkpoint of run {train._id}"
    assert drift["production"]["fingerprint"] == load_manifest(scenario_dir).fingerprint
    assert drift["alpha_per_window"] == pytest.approx(0.05 / 8)
    run_dir = Path(run.info["run_dir"])
    metrics = json.loads((run_dir / "metrics.json").read_text())
    for name in (
        "drift.distance",
        "drift.p_value",
        "drift.mmd2",
        "drift.flagged",
        "drift.accuracy",
    ):
        assert metrics[name]["steps"] == list(range(8)), name
    assert [i for i, v in enumerate(metrics["drift.flagged"]["values"]) if v] == DEGRADED
    assert "drift.class.7.distance" in metrics
    report = json.loads((run_dir / "drift_windows.json").read_text())
    assert report["flagged_windows"] == DEGRADED
    clean = [w["distance"] for w in report["windows"] if w["window"] in CLEAN]
    degraded = [w["distance"] for w in report["windows"] if w["window"] in DEGRADED]
    assert min(degraded) > max(clean)
    pngs = ("drift_projection.png", "drift_umap.png", "drift_pca_labels.png", "drift_curve.png")
    for name in (*pngs, "drift_farthest.png"):
        assert (run_dir / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
    assert any((run_dir / "drift_tensorboard").glob("events.out.tfevents.*"))


def test_serving_signature_returns_the_embedding_the_report_computed(drift_result, training_run):
    run, scenario_dir = drift_result
    train, _, _ = training_run
    images = read_split(scenario_dir, "production").images
    served = embed_saved_model(train.info["export_dir"], images)
    with np.load(Path(run.info["run_dir"]) / "drift_embeddings.npz") as report:
        np.testing.assert_array_equal(served["embedding"], report["embedding"])
        np.testing.assert_array_equal(served["class_ids"], report["class_ids"])
    assert {"embedding", "class_ids", "probabilities", "classes"} <= set(served)


def test_false_alarm_rate_over_clean_windows(training_run, drift_result, tmp_path):
    """Two more scenario seeds (with the command's: 12 clean, 12 degraded windows) and 100
    random clean windows of the held-out test digits, all embedded in one predict call."""
    train, data_dir, _ = training_run
    params = {**classifier_params_from_manifest(data_dir), "network": "cnn"}
    estimator = make_classifier(train.info["model_dir"], params, 42)
    batches = [read_split(drift_result[1], s) for s in ("baseline", "production")]
    for seed in (1, 2):
        out = build_scenario(data_dir, tmp_path / str(seed), split="test", seed=seed, **SCENARIO)
        batches += [read_split(out, s) for s in ("baseline", "production")]
    test = read_split(data_dir, "test")
    images = np.concatenate([b.images for b in batches] + [test.images])
    everything = embed_images(estimator, images)
    start, clean_flags = 0, []
    for baseline, production in zip(batches[::2], batches[1::2], strict=True):
        base = everything.take(np.arange(start, start + len(baseline)))
        start += len(baseline)
        prod = everything.take(np.arange(start, start + len(production)))
        start += len(production)
        prod = type(prod)(prod.embedding, prod.class_ids, prod.probabilities, production)
        windows, _ = assign_windows(production, window_size=None, window_seconds=3600)
        report = drift_report(base, prod, windows, params["class_names"], seed=0)
        assert report.flagged_windows == DEGRADED
        clean_flags += [w.flagged for w in report.windows if w.window in CLEAN]
    assert len(clean_flags) == 12 and not any(clean_flags)
    held_out = everything.take(np.arange(start, start + len(test)))
    rng = np.random.default_rng(0)
    p_values = []
    for i in range(100):
        order = rng.permutation(len(test))
        result = drift_report(
            held_out.take(order[:140]),
            held_out.take(order[140:180]),
            np.zeros(40, int),
            params["class_names"],
            num_permutations=99,
            seed=i,
        )
        p_values.append(result.windows[0].p_value)
    assert np.mean(np.array(p_values) < 0.05) <= 0.12  # nominal 0.05; binomial(100) 99.8% bound


def test_show_and_leaderboard_put_the_drift_run_next_to_its_training_run(
    drift_result, training_run, capsys
):
    from reproml.cli.main import main

    run, _ = drift_result
    train, _, store = training_run
    assert main(["--store", str(store), "show", str(train._id)]) == 0
    out = capsys.readouterr().out
    monitored = out.split("monitored by\n", 1)[1]
    assert monitored.splitlines()[2].split()[:2] == [str(run._id), "COMPLETED"]
    assert main(["--store", str(store), "show", str(run._id)]) == 0
    out = capsys.readouterr().out
    assert re.search(rf"^  monitors +{train._id}$", out, re.MULTILINE)
    assert re.search(r"^  flagged_windows +\[1, 2, 4, 5\]$", out, re.MULTILINE)
    assert main(["--store", str(store), "leaderboard", "--sort", "id", "--desc"]) == 0
    lines = capsys.readouterr().out.splitlines()[2:]
    ids = [line.split()[0] for line in lines]
    assert ids[ids.index(str(train._id)) + 1] == str(run._id)
    assert lines[ids.index(str(run._id))].split()[-1] == "4/8"


def test_drift_without_production_is_refused_before_it_runs(training_run, monkeypatch):
    train, _, _ = training_run
    with pytest.raises(
        ConfigError, match="'drift.production': expected an existing record directory"
    ):
        _run("drift", training_run, monkeypatch, model_dir=train.info["model_dir"])


def test_drift_refuses_a_monitors_id_that_did_not_train_model_dir(
    drift_result, training_run, monkeypatch
):
    run, scenario_dir = drift_result
    train, _, _ = training_run
    with pytest.raises(ConfigError, match="'drift.monitors': expected a run that trained"):
        _run(
            "drift",
            training_run,
            monkeypatch,
            model_dir=train.info["model_dir"],
            **{"drift.production": str(scenario_dir), "drift.monitors": str(run._id)},
        )


def test_embed_command_saves_the_embeddings_of_an_npz(
    drift_result, training_run, monkeypatch, tmp_path
):
    run, scenario_dir = drift_result
    train, _, _ = training_run
    production = read_split(scenario_dir, "production")
    path = tmp_path / "production.npz"
    np.savez(path, image=production.images[..., 0], timestamp=production.timestamps)
    embedded = _run(
        "embed",
        training_run,
        monkeypatch,
        model_dir=train.info["model_dir"],
        **{"drift.embed_from": str(path)},
    )
    assert embedded.result == [320, 128]  # the dense layer of the default cnn
    with (
        np.load(Path(embedded.info["run_dir"]) / "embeddings.npz") as ours,
        np.load(Path(run.info["run_dir"]) / "drift_embeddings.npz") as report,
    ):
        np.testing.assert_array_equal(ours["embedding"], report["embedding"])
        assert ours["timestamp"].tolist() == production.timestamps.tolist()
