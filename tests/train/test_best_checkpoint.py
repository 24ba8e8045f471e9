"""BestCheckpoint, the early-stopping settings, and the sweep's search-space words."""

import json

import pytest

from reproml.errors import CliError, ConfigError
from reproml.sweep.space import parse_space
from reproml.train.best_checkpoint import BestCheckpoint, check_early_stopping


def _checkpoint(model_dir, step):
    for suffix in ("index", "data-00000-of-00001", "meta"):
        (model_dir / f"model.ckpt-{step}.{suffix}").write_bytes(f"{step}".encode())
    return str(model_dir / f"model.ckpt-{step}")


def test_keeps_the_best_checkpoint_and_counts_evaluations_since(tmp_path):
    best = BestCheckpoint(tmp_path, "accuracy", "max", patience=2)
    assert best.update(10, {"accuracy": 0.5, "global_step": 10}, _checkpoint(tmp_path, 10))
    assert best.update(20, {"accuracy": 0.7}, _checkpoint(tmp_path, 20))
    assert not best.update(30, {"accuracy": 0.6}, _checkpoint(tmp_path, 30))
    assert not best.should_stop()
    assert not best.update(40, {"accuracy": float("nan")}, _checkpoint(tmp_path, 40))
    assert best.should_stop()
    kept = sorted(p.name for p in (tmp_path / "best").glob("model.ckpt-*"))
    assert kept == [f"model.ckpt-20.{s}" for s in ("data-00000-of-00001", "index", "meta")]
    # the Estimator deleting its own copy does not touch the kept one
    (tmp_path / "model.ckpt-20.index").unlink()
    assert (tmp_path / "best" / "model.ckpt-20.index").read_bytes() == b"20"
    assert best.record() == {
        "metric": "accuracy",
        "mode": "max",
        "step": 20,
        "value": 0.7,
        "path": str(tmp_path / "best" / "model.ckpt-20"),
    }
    state = json.loads((tmp_path / "best" / "best.json").read_text())
    assert (state["step"], state["since_best"]) == (20, 2)


def test_a_resumed_training_reads_the_best_back(tmp_path):
    first = BestCheckpoint(tmp_path, "loss", "min", patience=3)
    first.update(10, {"loss": 2.0}, _checkpoint(tmp_path, 10))
    first.update(20, {"loss": 2.5}, _checkpoint(tmp_path, 20))
    again = BestCheckpoint(tmp_path, "loss", "min", patience=3)
    assert (again.step, again.value, again.since_best) == (10, 2.0, 1)
    other = BestCheckpoint(tmp_path, "accuracy", "max")  # another metric starts afresh
    assert other.step is None


def test_a_metric_the_model_does_not_have_is_named(tmp_path):
    best = BestCheckpoint(tmp_path, "acc", "max")
    with pytest.raises(ConfigError, match=r"best_metric.*one of the eval metrics \['accuracy'"):
        best.update(10, {"accuracy": 0.5, "loss": 1.0}, _checkpoint(tmp_path, 10))


@pytest.mark.parametrize(
    ("metric", "mode", "patience", "message"),
    [
        ("", "max", None, "best_metric"),
        ("accuracy", "up", None, "best_mode"),
        ("accuracy", "max", 0, "patience"),
        ("accuracy", "max", True, "patience"),
        ("accuracy", "max", 1.5, "patience"),
        (None, "max", 2, "best_metric"),
    ],
)
def test_bad_early_stopping_settings_are_refused(metric, mode, patience, message):
    with pytest.raises(ConfigError, match=message):
        check_early_stopping(metric, mode, patience)


def test_sweep_words():
    space = parse_space(
        ["quick", "steps=30", "lr=loguniform(1e-4,1e-2)", "dropout=0.2,0.4", "units=int(8,64)"]
    )
    assert space.named == ("quick",)
    assert space.fixed == (("steps", 30),)
    lr, dropout, units = space.params
    assert (lr.kind, lr.low, lr.high) == ("loguniform", 1e-4, 1e-2)
    assert (dropout.kind, dropout.choices) == ("choice", (0.2, 0.4))
    assert (units.kind, units.low, units.high) == ("int", 8, 64)
    assert parse_space(space.words()) == space
    with pytest.raises(CliError, match="'lr'.*list of values"):
        space.grid()
    assert parse_space(["optimizer=adam,sgd"]).grid() == {"optimizer": ["adam", "sgd"]}


@pytest.mark.parametrize(
    ("words", "message"),
    [
        (["steps=30"], "nothing to search"),
        (["lr=loguniform(0,1)"], "LOW > 0"),
        (["lr=uniform(2,1)"], "LOW < HIGH"),
        (["lr=uniform(a,b)"], "LOW < HIGH"),
        (["n=int(1.5,3)"], "whole numbers"),
        (["a=1,1"], "listed twice"),
        (["lr=0.1,0.2", "lr=0.3,0.4"], "given twice"),
        (["1x=0.1,0.2"], "not a config entry"),
        (["lr="], "no value"),
    ],
)
def test_bad_sweep_words_are_refused(words, message):
    with pytest.raises(CliError, match=message):
        parse_space(words)
