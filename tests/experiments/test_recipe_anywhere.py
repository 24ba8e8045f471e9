"""docs/experiments.md's recipe as a researcher uses it: a file of their own, outside the repo.

The recipe is written to ``exp.py`` in a temporary directory (its own git checkout, not a package
named ``experiments``), over 3 classes of 16x16 RGB images, and run with
``python /tmp/.../exp.py with ...``; then ``reproml reproduce 1`` and ``reproml sweep
/tmp/.../exp.py ... --trials 2`` run it again by its path, and ``reproml launch -- python
/tmp/.../exp.py`` runs it on a local cluster that reproduce relaunches. A second directory that is no git
checkout shows a run reproduced from its recorded sources, and refused once one changed.
"""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from reproml.errors import ConfigError
from reproml.runs.file_store import load_run_dir
from tests.doc_blocks import ROOT, python_blocks

pytestmark = pytest.mark.slow

QUICK = [
    "dataset.data_path=images.npz",
    "dataset.class_names=['red','green','blue']",
    "dataset.data_dir=records",
    "dataset.samples_per_record=16",
    "steps=4",
    "eval_every=2",
    "log_every=1",
    "batch_size=8",
]


def write_recipe_and_images(folder: Path) -> Path:
    """Write the docs recipe as ``exp.py`` and 3 classes x 10 of 16x16 RGB images beside it."""
    (recipe,) = python_blocks("docs/experiments.md")
    path = folder / "exp.py"
    path.write_text(recipe)
    rng = np.random.default_rng(0)

    def split(n):
        labels = np.arange(n) % 3  # red, green, blue: the class is the bright channel
        images = rng.integers(0, 60, (n, 16, 16, 3))
        images[np.arange(n), :, :, labels] += 180
        return images.astype(np.uint8), labels

    (x_train, y_train), (x_test, y_test) = split(30), split(12)
    np.savez(folder / "images.npz", x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    return path


def run(argv, cwd, runs, check=True):
    """Run `argv` in `cwd` with the store `runs`; return the completed process."""
    env = {
        **os.environ,
        "REPROML_RUNS_DIR": str(runs),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    env.pop("REPROML_MONGO_URL", None)
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    if check and done.returncode != 0:
        raise AssertionError(f"{argv} exited {done.returncode}:\n{done.stdout}\n{done.stderr}")
    return done


def reproml(*args):
    """The `reproml` command of this interpreter's environment."""
    return [str(Path(sys.executable).parent / "reproml"), *args]


def git(folder, *args):
    subprocess.run(["git", *args], cwd=folder, check=True, capture_output=True)


@pytest.fixture(scope="module")
def own_checkout(tmp_path_factory):
    """A researcher's own git checkout holding exp.py and its images, and one run of it."""
    folder = tmp_path_factory.mktemp("textures")
    exp = write_recipe_and_images(folder)
    (folder / ".gitignore").write_text("runs/\nrecords/\nsweeps/\n")
    git(folder, "init", "-q")
    git(folder, "add", "exp.py", "images.npz", ".gitignore")
    git(folder, "-c", "user.name=r", "-c", "user.email=r@x", "commit", "-q", "-m", "mine")
    runs = folder / "runs"
    run([sys.executable, str(exp), "with", *QUICK], folder, runs)
    return folder, exp, runs


def test_the_recipe_in_its_own_file_records_every_promised_artifact(own_checkout):
    folder, exp, runs = own_checkout
    record = load_run_dir(runs / "1")
    assert record.status == "COMPLETED" and 0.0 <= record.result <= 1.0
    assert record.info["started"] == {
        "kind": "file",
        "path": "exp.py",
        "cwd": ".",
        "argv": ["with", *QUICK],
    }
    assert record.info["code"]["repo"] == str(folder.resolve())
    assert record.info["code"]["commit"] and record.info["code"]["dirty"] is False
    assert set(record.info["code"]["files"]) == {"exp.py"}
    assert {"pip-freeze.txt", "history.csv"} <= set(record.artifacts)
    assert record.info["dataset"]["name"] == "my_data"
    assert record.info["dataset"]["source"]["serialization"]["class_names"] == [
        "red",
        "green",
        "blue",
    ]
    assert set(record.info["dataset"]["splits"]) == {"train", "test"}
    assert record.info["model_dir"] == str(runs.resolve() / "1" / "model")
    assert (runs / "1" / "model" / "checkpoint").is_file()
    assert "tensorboard" in record.info
    assert {"train.loss", "eval.accuracy", "eval.loss"} <= set(record.metrics)
    raw = json.loads((runs / "1" / "run.json").read_text())
    assert [name for name, _ in raw["experiment"]["sources"]] == ["exp.py"]
    assert any(name.endswith("manifest.json") for name, _ in raw["resources"])


def test_reproduce_re_runs_the_file_by_its_path_and_matches_exactly(own_checkout):
    folder, _, runs = own_checkout
    done = run(reproml("reproduce", "1"), folder, runs)
    assert "run 1 reproduced exactly" in done.stdout, done.stdout + done.stderr
    assert "started: python exp.py in ." in done.stdout.splitlines()
    new = load_run_dir(runs / "2")
    assert new.info["reproduces"] == "1" and new.info["started"]["path"] == "exp.py"


def test_sweep_of_the_file_tags_and_ranks_two_trials(own_checkout):
    folder, exp, runs = own_checkout
    before = {p.name for p in runs.iterdir() if p.name.isdigit()}
    # A sweep word with commas is a choice: a list value comes in a config file (a named config).
    classes = folder / "classes.json"
    classes.write_text(json.dumps({"dataset": {"class_names": ["red", "green", "blue"]}}))
    done = run(
        reproml(
            "sweep",
            str(exp),
            classes.name,  # Sacred reads it from the working directory
            *(word for word in QUICK if not word.startswith("dataset.class_names")),
            "lr=loguniform(1e-4,1e-2)",
            "--trials",
            "2",
            "--id",
            "tex",
            "--sweeps-dir",
            str(folder / "sweeps"),
        ),
        folder,
        runs,
    )
    assert "trial 0 done" in done.stdout and "trial 1 done" in done.stdout, done.stdout
    assert "2 of 2 trials finished" in done.stdout
    ranks = [line.split()[:3] for line in done.stdout.splitlines() if line.strip()[:1] in "12"]
    assert [r[:1] for r in ranks if r[2:] == ["COMPLETE"]] == [["1"], ["2"]], done.stdout
    new = sorted({p.name for p in runs.iterdir() if p.name.isdigit()} - before, key=int)
    assert len(new) == 2
    for run_id in new:
        record = load_run_dir(runs / run_id)
        assert record.status == "COMPLETED"
        assert record.info["sweep"]["id"] == "tex"
        assert "sweep:tex" in json.loads((runs / run_id / "omniboard.json").read_text())["tags"]


def test_a_run_outside_a_git_checkout_is_reproduced_from_its_recorded_sources(tmp_path):
    exp = write_recipe_and_images(tmp_path)
    runs = tmp_path / "runs"
    run([sys.executable, str(exp), "with", *QUICK, "steps=2"], tmp_path, runs)
    record = load_run_dir(runs / "1")
    assert record.info["code"]["commit"] is None and set(record.info["code"]["files"]) == {"exp.py"}
    done = run(reproml("reproduce", "1"), tmp_path, runs)
    assert "run 1 reproduced exactly" in done.stdout, done.stdout + done.stderr
    assert "no git; sources by sha256" in done.stdout

    exp.write_text(exp.read_text() + "\n# edited after the run\n")
    refused = run(reproml("reproduce", "1"), tmp_path, runs, check=False)
    assert refused.returncode != 0
    lines = refused.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in refused.stderr, refused.stderr
    assert "was started outside a git checkout" in lines[0]
    assert "exp.py" in lines[0] and "--force" in lines[0]


def test_a_bad_optimizer_fails_in_one_line_before_anything_is_recorded(tmp_path):
    exp = write_recipe_and_images(tmp_path)
    runs = tmp_path / "runs"
    argv = [sys.executable, str(exp), "with", *QUICK, "optimizer=adamw"]
    done = run(argv, tmp_path, runs, check=False)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        "reproml.errors.ConfigError: config entry 'optimizer': expected one of "
        "['adagrad', 'adam', 'rmsprop', 'sgd'], got 'adamw'"
    ]
    assert not runs.exists() and not (tmp_path / "records").exists()


@pytest.mark.parametrize(
    ("updates", "message"),
    [
        ({"network": "resnet"}, "config entry 'network': expected one of"),
        ({"seed": -1}, r"config entry 'seed': expected an int in \[0, 2\*\*32\), got -1"),
        ({"model_dir": ""}, "config entry 'model_dir': expected None or a non-empty directory"),
        ({"lr": 0}, "config entry 'lr'"),
        ({"dataset.class_names": ["a", "a"]}, "'dataset.class_names': expected a list of at"),
        ({"dataset.class_names": "abc"}, "'dataset.class_names': expected a list of at"),
    ],
)
def test_every_entry_of_the_recipe_is_validated_before_anything_is_recorded(
    tmp_path, monkeypatch, updates, message
):
    exp = write_recipe_and_images(tmp_path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("REPROML_RUNS_DIR", str(tmp_path / "runs"))
    spec = importlib.util.spec_from_file_location("recipe_validated", exp)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    config = dict(word.split("=", 1) for word in QUICK)
    config = {k: v for k, v in config.items() if k != "dataset.class_names"}
    config = {k: int(v) if v.isdigit() else v for k, v in config.items()}
    with pytest.raises(ConfigError, match=message):
        module.ex.run(config_updates={**config, **updates})
    assert not (tmp_path / "runs").exists() and not (tmp_path / "records").exists()


def test_launch_runs_the_file_on_a_local_cluster_and_reproduce_relaunches_it(own_checkout):
    folder, exp, runs = own_checkout
    before = {p.name for p in runs.iterdir() if p.name.isdigit()}
    sharded = [w for w in QUICK if not w.startswith(("dataset.data_dir", "dataset.samples"))]
    words = [*sharded, "dataset.data_dir=records8", "dataset.samples_per_record=8"]
    launch = [*reproml("launch", "--workers", "2", "--timeout", "300"), "--"]
    run([*launch, sys.executable, str(exp), "with", *words], folder, runs)
    (job,) = {p.name for p in runs.iterdir() if p.name.isdigit()} - before
    record = load_run_dir(runs / job)
    assert record.status == "COMPLETED" and record.info["cluster"]["num_trainers"] == 2
    assert record.info["started"]["kind"] == "file" and record.info["started"]["path"] == "exp.py"
    # From another directory: the tasks run the file from the checkout, in the recorded cwd.
    done = run(reproml("--store", str(runs), "reproduce", job), folder.parent, runs)
    assert done.stdout.splitlines()[-1] == f"run {job} reproduced exactly", done.stdout
