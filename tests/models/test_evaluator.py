"""The fixed evaluation classifier: trained once per dataset, deterministic, verified on load."""

from __future__ import annotations

import json
import shutil
import threading
import time

import numpy as np
import pytest
from sklearn.datasets import load_digits

from handlers.image import ImageArrayHandler
from handlers.label import ClassLabelHandler
from reproml.errors import ConfigError, RecordError
from reproml.models import evaluator as ev
from reproml.records.manifest import load_manifest
from tests.models.conftest import IMAGE_SHAPE, write_image_records

pytestmark = pytest.mark.slow
CONFIG = ev.evaluator_config(steps=15, batch_size=32, seed=0)


@pytest.fixture(scope="module")
def digit_manifest(tmp_path_factory):
    """200 train + 100 test sklearn digits as 28x28x1 records (the splits the evaluator reads)."""
    digits = load_digits()
    rows = [
        {"image": i, "label": int(label)}
        for i, label in zip(digits.images, digits.target, strict=True)
    ]
    handlers = {
        "image": ImageArrayHandler(shape=IMAGE_SHAPE, scale=(0, 16, 0, 255)),
        "label": ClassLabelHandler(num_classes=10),
    }
    record_dir = tmp_path_factory.mktemp("evaluator_records")
    write_image_records(record_dir, handlers, {"train": rows[:200], "test": rows[200:300]}, 100)
    return load_manifest(record_dir)


@pytest.fixture(scope="module")
def trained(tmp_path_factory, digit_manifest):
    """An evaluator trained into a fresh cache, with the log lines it printed."""
    root = tmp_path_factory.mktemp("evaluators")
    lines = []
    evaluator = ev.load_or_train_evaluator(digit_manifest, root, CONFIG, log=lines.append)
    return root, evaluator, lines


def test_evaluator_is_trained_once_then_reused(trained, digit_manifest):
    root, first, lines = trained
    assert [line.split()[0] for line in lines] == ["training", "evaluator"]
    meta = first.directory / ev.META_FILE
    stamp, files = meta.stat().st_mtime_ns, sorted(p.name for p in first.directory.iterdir())
    assert first.directory.parent == root and sorted(p.name for p in root.iterdir()) == [
        f".{first.directory.name}.lock",  # the training lock, left in place
        first.directory.name,
    ]  # no temporary directory left behind
    again_lines = []
    second = ev.load_or_train_evaluator(digit_manifest, root, CONFIG, log=again_lines.append)
    assert second.fingerprint == first.fingerprint
    assert again_lines == [f"evaluator {first.fingerprint[:12]} reused from {first.directory}"]
    assert meta.stat().st_mtime_ns == stamp  # not retrained
    assert sorted(p.name for p in second.directory.iterdir()) == files
    assert 0 <= first.test_accuracy <= 1 and len(first.fingerprint) == 64


def test_training_is_deterministic(trained, digit_manifest, tmp_path):
    _, first, _ = trained
    other = ev.load_or_train_evaluator(digit_manifest, tmp_path, CONFIG, log=lambda _: None)
    assert other.fingerprint == first.fingerprint
    assert other.test_accuracy == first.test_accuracy


def test_another_config_is_another_evaluator(trained, digit_manifest):
    root, first, _ = trained
    config = {**CONFIG, "steps": 16}
    assert ev.evaluator_directory(digit_manifest, config, root) != first.directory


def test_info_records_identity_accuracy_and_sample_count(trained):
    _, evaluator, _ = trained
    info = evaluator.info(50)
    assert info["fingerprint"] == evaluator.fingerprint
    assert info["dataset_fingerprint"] == evaluator.dataset_fingerprint
    assert info["num_samples"] == 50 and info["test_accuracy"] == evaluator.test_accuracy
    assert info["config"] == CONFIG


def test_scores_of_real_images_against_their_reference(trained, digit_manifest):
    _, evaluator, _ = trained
    reference = evaluator.reference(digit_manifest, 50)
    assert set(reference["scores"]) == set(ev.SCORE_NAMES)
    real = ev.next_images(digit_manifest, "test", 50)
    scores = evaluator.scores(real, reference)
    assert scores["frechet_distance"] == pytest.approx(0.0, abs=1e-3)
    assert scores["mnist_score"] == pytest.approx(reference["scores"]["mnist_score"])
    collapsed = evaluator.scores(np.repeat(real[:1], 50, axis=0), reference)
    assert collapsed["class_entropy"] == 0.0
    assert collapsed["pairwise_distance"] == pytest.approx(0.0, abs=1e-5)
    assert collapsed["frechet_distance"] > scores["frechet_distance"] + 1
    with pytest.raises(ValueError, match="reference's count"):
        evaluator.scores(real[:10], reference)


def test_reference_larger_than_the_split_is_a_config_error(trained, digit_manifest):
    _, evaluator, _ = trained
    with pytest.raises(ConfigError, match="num_fid_samples"):
        evaluator.reference(digit_manifest, 101)


def _copy(trained, tmp_path, digit_manifest):
    import shutil

    _, evaluator, _ = trained
    root = tmp_path / "cache"
    directory = ev.evaluator_directory(digit_manifest, CONFIG, root)
    shutil.copytree(evaluator.directory, directory)
    return root, directory, evaluator


def test_a_corrupt_checkpoint_file_is_refused_not_used(trained, tmp_path, digit_manifest):
    root, directory, _ = _copy(trained, tmp_path, digit_manifest)
    data = next(directory.glob("model.ckpt-15.data-*"))
    raw = bytearray(data.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    data.write_bytes(bytes(raw))
    with pytest.raises(RecordError, match=r"sha256 .* differs .*delete .* to train") as err:
        ev.load_or_train_evaluator(digit_manifest, root, CONFIG, log=lambda _: None)
    assert err.value.path == str(data)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda meta: {**meta, "dataset_fingerprint": "0" * 64}, "made for dataset 0000"),
        (lambda meta: {**meta, "fingerprint": "f" * 64}, "fingerprint does not match"),
        (lambda meta: {**meta, "files": {}}, "lists no checkpoint files"),
        (lambda meta: {k: v for k, v in meta.items() if k != "checkpoint"}, "not a readable"),
        (lambda meta: {**meta, "config": {**CONFIG, "steps": 99}}, "made with config"),
    ],
)
def test_a_tampered_evaluator_record_is_refused(trained, tmp_path, digit_manifest, edit, message):
    root, directory, _ = _copy(trained, tmp_path, digit_manifest)
    meta_path = directory / ev.META_FILE
    meta_path.write_text(json.dumps(edit(json.loads(meta_path.read_text()))))
    with pytest.raises(RecordError, match=message):
        ev.load_or_train_evaluator(digit_manifest, root, CONFIG, log=lambda _: None)


def test_a_missing_checkpoint_file_is_refused(trained, tmp_path, digit_manifest):
    root, directory, _ = _copy(trained, tmp_path, digit_manifest)
    (directory / "model.ckpt-15.index").unlink()
    with pytest.raises(RecordError, match="missing"):
        ev.load_or_train_evaluator(digit_manifest, root, CONFIG, log=lambda _: None)


@pytest.mark.parametrize(
    ("kwargs", "entry"),
    [
        ({"steps": 0}, "evaluator_steps"),
        ({"batch_size": 1.5}, "batch_size"),
        ({"seed": -1}, "seed"),
    ],
)
def test_bad_evaluator_config_is_refused(kwargs, entry):
    with pytest.raises(ConfigError) as err:
        ev.evaluator_config(**kwargs)
    assert err.value.entry == entry


def test_default_root_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv(ev.EVALUATOR_ENV, str(tmp_path))
    assert ev.default_root() == tmp_path
    monkeypatch.delenv(ev.EVALUATOR_ENV)
    assert ev.default_root().parts[-3:] == (".cache", "reproml", "evaluators")


# ------------------------------------------------------------------ on a TF_CONFIG cluster

WITH_PS = {"chief": ["127.0.0.1:1"], "worker": ["127.0.0.1:2"], "ps": ["127.0.0.1:3"]}


def _set_task(monkeypatch, kind):
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": WITH_PS, "task": {"type": kind, "index": 0}}))  # fmt: skip
    monkeypatch.delenv("REPROML_STRATEGY", raising=False)


def test_the_chief_of_a_cluster_trains_the_evaluator_one_process_trains(
    trained, digit_manifest, tmp_path, monkeypatch
):
    # 2 train shards, 2 trainers: with TF_CONFIG seen, the chief would read one shard only, and
    # its RunConfig would point the session at the (unreachable) cluster master.
    _, one_process, _ = trained
    _set_task(monkeypatch, "chief")
    lines = []
    chief = ev.load_or_train_evaluator(digit_manifest, tmp_path, CONFIG, log=lines.append)
    assert lines[0].startswith("training the evaluator")
    assert chief.fingerprint == one_process.fingerprint
    assert chief.test_accuracy == one_process.test_accuracy
    assert chief.estimator.config.cluster_spec.as_dict() == {}  # one process's RunConfig
    assert chief.estimator.config.train_distribute is None


def test_a_task_other_than_the_chief_never_trains_it_but_waits_for_the_chiefs(
    trained, digit_manifest, tmp_path, monkeypatch
):
    _, evaluator, _ = trained
    _set_task(monkeypatch, "worker")
    lines = []
    with pytest.raises(RecordError, match=r"not trained by the chief within 0.5 s.*REPROML_EVALUATOR_DIR") as err:  # fmt: skip
        ev.load_or_train_evaluator(digit_manifest, tmp_path, CONFIG, log=lines.append, wait_secs=0.5)  # fmt: skip
    assert err.value.path == str(ev.evaluator_directory(digit_manifest, CONFIG, tmp_path))
    assert lines == [
        f"worker:0: waiting for the chief to train the evaluator into {err.value.path}"
    ]
    assert list(tmp_path.iterdir()) == []  # nothing trained, nothing locked
    shutil.copytree(evaluator.directory, err.value.path)  # the chief's, in the shared cache
    worker = ev.load_or_train_evaluator(digit_manifest, tmp_path, CONFIG, log=lines.append)
    assert worker.fingerprint == evaluator.fingerprint and lines[-1].endswith(err.value.path)


def test_a_second_process_waits_for_the_training_lock_then_reuses(
    trained, digit_manifest, tmp_path
):
    import fcntl

    _, evaluator, _ = trained
    directory = ev.evaluator_directory(digit_manifest, CONFIG, tmp_path)
    lines, results = [], []
    with open(tmp_path / f".{directory.name}.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another process is training it
        waiting = threading.Thread(
            target=lambda: results.append(
                ev.load_or_train_evaluator(digit_manifest, tmp_path, CONFIG, log=lines.append)
            )
        )
        waiting.start()
        time.sleep(1.0)
        assert waiting.is_alive() and lines == []  # blocked on the lock, not training
        shutil.copytree(evaluator.directory, directory)  # the other process renames its result
        fcntl.flock(lock, fcntl.LOCK_UN)
    waiting.join(timeout=60)
    assert lines == [f"evaluator {evaluator.fingerprint[:12]} reused from {directory}"]
    assert results[0].fingerprint == evaluator.fingerprint
