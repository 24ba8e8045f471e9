"""docs/experiments.md's recipe as a researcher uses it: a file of their own, outside the repo.

The ~40-line recipe is written to ``shapes.py`` in a temporary directory (its own git checkout,
not a package named ``experiments``) beside an image folder of 3 classes of 24x24 RGB PNGs (one
class name with a space), and run with ``python /tmp/.../shapes.py with ...``: it records every
artifact of docs/experiments.md's "What a run records" table, its ``embed`` command works, then
``reproml reproduce 1`` and ``reproml sweep /tmp/.../shapes.py ... --trials 2`` run it again by
its path, and ``reproml launch -- python /tmp/.../shapes.py`` runs it on a local cluster that
reproduce relaunches. A second directory that is no git checkout shows a run reproduced from its
recorded sources, and refused once one changed.
"""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from reproml.datasets.image_folder_ingredient import IMAGE_CONVERSION
from reproml.errors import ConfigError
from reproml.runs.file_store import load_run_dir
from tests.doc_blocks import ROOT
from tests.experiments.shapes_recipe import write_recipe_and_images

pytestmark = pytest.mark.slow

ONEDNN = (
    "TF_ENABLE_ONEDNN_OPTS"  # unset for a test that needs a shell without it, whatever yours sets
)
QUICK = [
    "dataset.samples_per_record=16",
    "steps=4",
    "eval_every=2",
    "log_every=1",
    "batch_size=8",
    "num_samples=4",
]
# Every artifact of docs/experiments.md's "What a run records" of a classifier run in a checkout.
ARTIFACTS = {
    "pip-freeze.txt",
    "history.csv",
    "confusion_matrix.png",
    "roc_pr_curves.png",
    "sample_predictions.png",
    "saved_model.zip",
}


def run(argv, cwd, runs, check=True, unset=()):
    """Run `argv` in `cwd` with the store `runs`, without the variables `unset`; return it."""
    env = {
        **{name: value for name, value in os.environ.items() if name not in unset},
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
    """A researcher's own git checkout holding shapes.py and its images, and one run of it."""
    folder = tmp_path_factory.mktemp("shapes")
    exp = write_recipe_and_images(folder)
    (folder / ".gitignore").write_text("runs/\ndata/shapes/records*/\nsweeps/\n")
    git(folder, "init", "-q")
    git(folder, "add", "shapes.py", "data", ".gitignore")
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
        "path": "shapes.py",
        "cwd": ".",
        "argv": ["with", *QUICK],
    }
    assert record.info["code"]["repo"] == str(folder.resolve())
    assert record.info["code"]["commit"] and record.info["code"]["dirty"] is False
    assert set(record.info["code"]["files"]) == {"shapes.py"}
    assert ARTIFACTS <= set(record.artifacts), sorted(record.artifacts)
    assert record.info["dataset"]["name"] == "shapes"
    assert record.info["dataset"]["examples_per_class"]["test"] == {
        "dark blue": 4,
        "green": 4,
        "red": 4,
    }
    assert record.info["dataset"]["source"]["type"] == "image_folder"
    assert set(record.info["dataset"]["splits"]) == {"train", "test"}
    assert record.info["model_dir"] == str(runs.resolve() / "1" / "model")
    assert (runs / "1" / "model" / "checkpoint").is_file()
    assert "tensorboard" in record.info
    assert {"train.loss", "eval.accuracy", "eval.loss"} <= set(record.metrics)
    best = record.info["best_checkpoint"]
    assert best["metric"] == "accuracy" and Path(best["path"] + ".index").is_file()
    params = record.info["model_summary"]["parameters"]
    assert isinstance(params, int) and params > 0
    raw = json.loads((runs / "1" / "run.json").read_text())
    # The file, and the modules of the reproml ingredients it uses (outside its directory; Sacred
    # lists them sorted by name, so "../" paths may come first).
    names = [name for name, _ in raw["experiment"]["sources"]]
    assert names.count("shapes.py") == 1, names
    assert any(n.endswith("reproml/datasets/image_folder_ingredient.py") for n in names)
    assert all("/reproml/" in name for name in names if name != "shapes.py"), names
    assert any(name.endswith("manifest.json") for name, _ in raw["resources"])
    board = run(reproml("leaderboard"), folder, runs).stdout.splitlines()
    header, row = board[0].split(), next(line.split() for line in board if line.startswith("1 "))
    assert row[header.index("params")] == str(params)


def test_the_savedmodel_serves_rgb_images_with_their_embedding(own_checkout):
    import numpy as np
    import tensorflow as tf  # deferred: only this test loads TensorFlow in the test process

    _, _, runs = own_checkout
    export_dir = load_run_dir(runs / "1").info["export_dir"]
    serve = tf.saved_model.load(export_dir).signatures["serving_default"]
    out = serve(image=tf.constant(np.zeros((2, 24, 24, 3), np.uint8)))
    assert {"class_ids", "probabilities", "embedding"} <= set(out)
    assert out["probabilities"].shape == (2, 3) and out["embedding"].shape[0] == 2


def test_the_embed_command_embeds_the_test_images_of_the_trained_run(own_checkout):
    folder, exp, runs = own_checkout
    before = {p.name for p in runs.iterdir() if p.name.isdigit()}
    words = ["model_dir=runs/1/model", "dataset.samples_per_record=16"]  # the run's records
    # As in a user's shell: the tests' TF_ENABLE_ONEDNN_OPTS=1 hid that checking the model_dir
    # loaded TensorFlow before cpu_kernels was applied, so every evaluate | export | embed |
    # drift of a trained run was refused ("expected the CPU kernels this process runs").
    run([sys.executable, str(exp), "embed", "with", *words], folder, runs, unset={ONEDNN})
    (new,) = {p.name for p in runs.iterdir() if p.name.isdigit()} - before
    record = load_run_dir(runs / new)
    assert record.status == "COMPLETED" and "embeddings.npz" in record.artifacts
    assert record.info["embeddings"]["shape"][0] == 12  # the 12 test images


def test_reproduce_re_runs_the_file_by_its_path_and_matches_exactly(own_checkout):
    folder, _, runs = own_checkout
    before = {p.name for p in runs.iterdir() if p.name.isdigit()}
    done = run(reproml("reproduce", "1"), folder, runs)
    assert "run 1 reproduced exactly" in done.stdout, done.stdout + done.stderr
    assert "started: python shapes.py in ." in done.stdout.splitlines()
    (made,) = {p.name for p in runs.iterdir() if p.name.isdigit()} - before  # other tests add runs
    new = load_run_dir(runs / made)
    assert new.info["reproduces"] == "1" and new.info["started"]["path"] == "shapes.py"


def test_sweep_of_the_file_tags_and_ranks_two_trials(own_checkout):
    folder, exp, runs = own_checkout
    before = {p.name for p in runs.iterdir() if p.name.isdigit()}
    done = run(
        reproml(
            "sweep",
            str(exp),
            *QUICK,
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
    assert record.info["code"]["commit"] is None and set(record.info["code"]["files"]) == {
        "shapes.py"
    }
    done = run(reproml("reproduce", "1"), tmp_path, runs)
    assert "run 1 reproduced exactly" in done.stdout, done.stdout + done.stderr
    assert "no git; sources by sha256" in done.stdout

    exp.write_text(exp.read_text() + "\n# edited after the run\n")
    refused = run(reproml("reproduce", "1"), tmp_path, runs, check=False)
    assert refused.returncode != 0
    lines = refused.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in refused.stderr, refused.stderr
    assert "was started outside a git checkout" in lines[0]
    assert "shapes.py" in lines[0] and "--force" in lines[0]


@pytest.mark.parametrize(
    ("entry", "line"),
    [
        (
            "optimizer=adamw",
            "reproml.errors.ConfigError: config entry 'optimizer': expected one of "
            "['adagrad', 'adam', 'rmsprop', 'sgd'], got 'adamw'",
        ),
        (  # Sacred printed 3 lines ending "dataset.trian_dir=None": neither the value nor the fix
            "dataset.trian_dir=data/shapes/train",
            "reproml.errors.UnknownConfigEntryError: config entry 'dataset.trian_dir': expected "
            "an entry of this experiment (did you mean 'dataset.train_dir' or "
            "'dataset.test_dir'? print_config lists them all), got 'data/shapes/train'",
        ),
    ],
    ids=["bad-optimizer", "mistyped-dataset-entry"],
)
def test_a_bad_entry_fails_in_one_line_before_anything_is_recorded(tmp_path, entry, line):
    exp = write_recipe_and_images(tmp_path)
    runs = tmp_path / "runs"
    done = run([sys.executable, str(exp), "with", *QUICK, entry], tmp_path, runs, check=False)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [line]
    assert not runs.exists() and not (tmp_path / "data" / "shapes" / "records").exists()


@pytest.mark.parametrize(
    ("updates", "message"),
    [
        ({"network": "resnet"}, "config entry 'network': expected one of"),
        ({"seed": -1}, r"config entry 'seed': expected an int in \[0, 2\*\*32\), got -1"),
        ({"model_dir": ""}, "config entry 'model_dir': expected None or a non-empty directory"),
        ({"lr": 0}, "config entry 'lr'"),
        ({"optimizer": "adamw"}, "config entry 'optimizer': expected one of"),
        ({"dropout": 1}, r"config entry 'dropout': expected a rate in \[0, 1\)"),
        ({"batch_size": 0}, "config entry 'batch_size': expected an int >= 1"),
        ({"num_samples": 1.5}, "config entry 'num_samples': expected an int >= 1"),
        ({"best_mode": "up"}, "'best_mode'"),
        ({"patience": 0}, "'patience'"),
        ({"export_savedmodel": "yes"}, "config entry 'export_savedmodel': expected True or False"),
        ({"class_weights": "balance"}, "config entry 'class_weights'"),
        ({"augment": {"flip": True}}, "config entry 'augment'"),
        ({"cpu_kernels": "mkl"}, r"config entry 'cpu_kernels': expected None or one of"),
        ({"dataset.train_dir": "no/such/dir"}, "'dataset.train_dir': expected an existing"),
        ({"dataset.image_mode": "CMYK"}, "'dataset.image_mode': expected one of"),
        ({"dataset.name": ""}, "'dataset.name': expected a non-empty dataset name"),
        ({"dataset.subset_seed": -1}, "'dataset.subset_seed'"),
        ({"dataset.max_examples": 0}, "'dataset.max_examples'"),
        (
            {"dataset.trian_dir": "data/shapes/train"},
            r"config entry 'dataset.trian_dir': expected an entry of this experiment "
            r"\(did you mean 'dataset.train_dir' or 'dataset.test_dir'\? print_config lists "
            r"them all\), got 'data/shapes/train'$",
        ),
        ({"lrr": 0.1}, r"config entry 'lrr': .*\(did you mean 'lr'\? .*got 0.1$"),
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
    config = {k: int(v) if v.isdigit() else v for k, v in config.items()}
    with pytest.raises(ConfigError, match=message):
        module.ex.run(config_updates={**config, **updates})
    assert not (tmp_path / "runs").exists()
    assert not (tmp_path / "data" / "shapes" / "records").exists()


def test_launch_runs_the_file_on_a_local_cluster_and_reproduce_relaunches_it(own_checkout):
    folder, exp, runs = own_checkout
    before = {p.name for p in runs.iterdir() if p.name.isdigit()}
    sharded = [w for w in QUICK if not w.startswith(("dataset.data_dir", "dataset.samples"))]
    words = [*sharded, "dataset.data_dir=data/shapes/records8", "dataset.samples_per_record=8"]
    # The records first (docs/distributed.md): tasks that all found none would all write them.
    serialize = [w for w in words if w.startswith("dataset.")]
    run([sys.executable, str(exp), "serialize", "with", *serialize], folder, runs)
    before = {p.name for p in runs.iterdir() if p.name.isdigit()}
    launch = [*reproml("launch", "--workers", "2", "--timeout", "300"), "--"]
    run([*launch, sys.executable, str(exp), "with", *words], folder, runs)
    (job,) = {p.name for p in runs.iterdir() if p.name.isdigit()} - before
    record = load_run_dir(runs / job)
    assert record.status == "COMPLETED" and record.info["cluster"]["num_trainers"] == 2
    assert (
        record.info["started"]["kind"] == "file" and record.info["started"]["path"] == "shapes.py"
    )
    # From another directory: the tasks run the file from the checkout, in the recorded cwd.
    done = run(reproml("--store", str(runs), "reproduce", job), folder.parent, runs)
    assert done.stdout.splitlines()[-1] == f"run {job} reproduced exactly", done.stdout


def test_records_of_an_earlier_pixel_conversion_are_refused_not_reused(tmp_path):
    # The conversion before IMAGE_CONVERSION stored 16-bit grey PNGs as all-white images, and a
    # later run reused those records: "same serialization config, source unchanged".
    exp = write_recipe_and_images(tmp_path)
    runs = tmp_path / "runs"
    serialize = [sys.executable, str(exp), "serialize", "with", "dataset.samples_per_record=16"]
    run(serialize, tmp_path, runs)
    manifest_path = tmp_path / "data" / "shapes" / "records" / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    assert manifest["source"]["serialization"]["image_conversion"] == IMAGE_CONVERSION
    del manifest["source"]["serialization"]["image_conversion"]  # as the earlier code wrote it
    manifest_path.write_text(json.dumps(manifest, indent=2))
    refused = run(serialize, tmp_path, runs, check=False)
    assert refused.returncode == 1
    lines = refused.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in refused.stderr, refused.stderr
    assert (
        f"dataset.image_conversion='unrecorded' there, {IMAGE_CONVERSION!r} in this run"
        in (lines[0])
    )
    assert "dataset.overwrite_records=True" in lines[0]
    run([*serialize, "dataset.overwrite_records=True"], tmp_path, runs)
    rewritten = json.loads(manifest_path.read_text())
    assert rewritten["source"]["serialization"]["image_conversion"] == IMAGE_CONVERSION
