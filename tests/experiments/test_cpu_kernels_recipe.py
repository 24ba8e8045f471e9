"""The recipe's CPU kernels: oneDNN's by default, applied before the user's own TensorFlow ops;
`reproduce` re-runs a run with the kernels it ran (an old run with the process's), refuses a
process set to other kernels and, forced, says they differed.

docs/experiments.md's recipe is written to ``shapes.py`` in a plain directory (no git: its
sources are checked by sha256), with a TensorFlow op of its own at the start of ``main``, and
run in a fresh process whose ``TF_ENABLE_ONEDNN_OPTS`` is unset (or set, where a test says).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from reproml.runs.file_store import load_run_dir
from reproml.runs.reproduce import declared_kernels, rerun_kernels
from reproml.runs.seal import seal_run_dir
from tests.doc_blocks import ROOT
from tests.experiments.shapes_recipe import write_recipe_and_images

ENV = "TF_ENABLE_ONEDNN_OPTS"
QUICK = [
    "dataset.samples_per_record=16",
    "steps=2",
    "eval_every=2",
    "log_every=1",
    "batch_size=8",
    "num_samples=4",
    "export_savedmodel=False",
]
MAIN = "    return train_classifier(_run, _config, ensure_records())"
# The user's own TensorFlow op, run before anything of reproml builds a model (a convolution:
# TensorFlow fixes the process's CPU kernels there).
OWN_OP = """    import tensorflow as tf

    image = tf.ones([1, 4, 4, 1])
    _run.info["own_op"] = float(tf.reduce_sum(tf.nn.conv2d(image, tf.ones([3, 3, 1, 1]), 1, "SAME")))
"""


def _run(argv: list[str], cwd: Path, onednn: str | None) -> subprocess.CompletedProcess:
    """Run `argv` in `cwd` (store ``cwd/runs``) with ``TF_ENABLE_ONEDNN_OPTS`` = `onednn`."""
    env = {k: v for k, v in os.environ.items() if k not in (ENV, "REPROML_MONGO_URL")}
    env.update(
        REPROML_RUNS_DIR=str(cwd / "runs"),
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        TF_CPP_MIN_LOG_LEVEL="3",
    )
    if onednn is not None:
        env[ENV] = onednn
    return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


def _reproduce(folder: Path, *args: str, onednn: str | None) -> subprocess.CompletedProcess:
    reproml = str(Path(sys.executable).parent / "reproml")
    return _run([reproml, "reproduce", *args], folder, onednn)


def _new_run(folder: Path, before: set[str]):
    (made,) = {p.name for p in (folder / "runs").iterdir() if p.name.isdigit()} - before
    return load_run_dir(folder / "runs" / made)


def _ids(folder: Path) -> set[str]:
    return {p.name for p in (folder / "runs").iterdir() if p.name.isdigit()}


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    """A plain directory holding shapes.py (with its own op) and run 1 of it, default config."""
    folder = tmp_path_factory.mktemp("kernels")
    exp = write_recipe_and_images(folder)
    text = exp.read_text()
    assert MAIN in text
    exp.write_text(text.replace(MAIN, OWN_OP + MAIN))
    done = _run([sys.executable, str(exp), "with", *QUICK], folder, onednn=None)
    assert done.returncode == 0, done.stdout + done.stderr
    return folder


@pytest.mark.slow
def test_a_default_run_declares_onednn_and_runs_it_after_an_op_of_its_own(recorded):
    run = load_run_dir(recorded / "runs" / "1")
    assert run.status == "COMPLETED"
    assert run.info["own_op"] == 100.0  # the op ran in main, before the classifier was built
    assert run.config["cpu_kernels"] == "onednn" and run.info["cpu_kernels"] == "onednn"


@pytest.mark.slow
def test_a_process_set_to_other_kernels_is_refused_and_forced_says_they_differed(recorded):
    before = _ids(recorded)
    refused = _reproduce(recorded, "1", onednn="0")
    assert refused.returncode == 2, refused.stdout + refused.stderr
    (line,) = refused.stderr.strip().splitlines()
    assert line.startswith("reproml reproduce: error: refusing to reproduce run 1: "), line
    assert (
        f"cpu kernels differ: run 1 ran onednn, this process is set to run eigen ({ENV}=0); "
        f"start reproduce with {ENV}=1 (or unset)" in line
    ), line
    assert _ids(recorded) == before  # nothing ran

    forced = _reproduce(recorded, "1", "--force", onednn="0")
    assert forced.returncode == 1, forced.stdout + forced.stderr
    new = _new_run(recorded, before)
    out = forced.stdout.splitlines()
    assert new.config["cpu_kernels"] == "eigen" and new.info["cpu_kernels"] == "eigen"
    assert new.info["reproduce_overrides"] == {"cpu_kernels": "onednn"}
    assert "cpu_kernels: the re-run declared eigen (run 1's config: onednn; it ran onednn)" in out
    assert (
        f"cpu kernels differ: run 1 ran onednn, run {new.run_id} ran eigen (their floating-point "
        "sums differ: not the same computation)" in out
    ), forced.stdout
    assert out[-1] == "run 1 did NOT reproduce exactly"


@pytest.mark.slow
def test_an_old_run_without_the_entry_re_runs_with_the_process_kernels(recorded):
    """Run 1 edited (and sealed again) to look like a run recorded before ``cpu_kernels`` and
    ``info["cpu_kernels"]`` existed: the re-run declares None, not today's default."""
    run_dir = recorded / "runs" / "1"
    for name in ("config.json", "info.json"):
        data = json.loads((run_dir / name).read_text())
        del data["cpu_kernels"]
        (run_dir / name).write_text(json.dumps(data, indent=2))
    seal_run_dir(run_dir)
    before = _ids(recorded)
    done = _reproduce(recorded, "1", onednn="1")  # the process's kernels: those run 1 ran
    assert done.returncode == 0, done.stdout + done.stderr
    new = _new_run(recorded, before)
    assert new.config["cpu_kernels"] is None and new.info["cpu_kernels"] == "onednn"
    assert new.info["reproduce_overrides"] == {"cpu_kernels": None}
    out = done.stdout.splitlines()
    assert (
        "cpu_kernels: the re-run declared None (run 1's config: no such entry; it ran kernels "
        "it did not record)" in out
    ), done.stdout
    assert (
        f"cpu kernels: run 1 recorded none (it ran before reproml recorded them), run "
        f"{new.run_id} ran onednn" in out
    )
    assert out[-1] == "run 1 reproduced exactly"


@pytest.mark.parametrize(
    ("config", "info", "declared", "overrides"),
    [
        ({"cpu_kernels": "eigen"}, {"cpu_kernels": "eigen"}, "eigen", {}),
        ({"cpu_kernels": "onednn"}, {}, "onednn", {}),
        # recorded after info["cpu_kernels"], before the entry: the kernels it ran
        ({}, {"cpu_kernels": "eigen"}, "eigen", {"cpu_kernels": None}),
        ({"cpu_kernels": None}, {"cpu_kernels": "onednn"}, "onednn", {"cpu_kernels": None}),
        # recorded before both: the process's, never today's default
        ({}, {}, None, {"cpu_kernels": None}),
        ({"cpu_kernels": None}, {}, None, {}),
    ],
)
def test_the_re_run_declares_the_kernels_the_run_ran(config, info, declared, overrides):
    assert rerun_kernels(config, info) == declared
    new, replaced = declared_kernels({"lr": 0.1, **config}, info, captured=True)
    assert new == {"lr": 0.1, "cpu_kernels": declared} and replaced == overrides
    assert declared_kernels(config, info, captured=False) == (config, {})


def test_forced_the_re_run_declares_the_kernels_the_process_is_set_to(monkeypatch):
    monkeypatch.setenv(ENV, "0")
    config, info = {"cpu_kernels": "onednn"}, {"cpu_kernels": "onednn"}
    assert declared_kernels(config, info, captured=True) == (config, {})
    assert declared_kernels(config, info, captured=True, force=True) == (
        {"cpu_kernels": "eigen"},
        {"cpu_kernels": "onednn"},
    )
    assert declared_kernels({}, {}, captured=True, force=True) == (
        {"cpu_kernels": None},
        {"cpu_kernels": None},
    )
