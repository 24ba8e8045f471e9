"""Run faults: signals during training, unreachable MongoDB on the command line."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import tensorflow as tf

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def _env(runs: Path) -> dict:
    env = dict(os.environ, REPROML_RUNS_DIR=str(runs), TF_CPP_MIN_LOG_LEVEL="2")
    env.pop("REPROML_MONGO_URL", None)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _mnist(args: list[str], runs: Path, cwd: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "experiments.mnist", *args],
        cwd=cwd,
        env=_env(runs),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _step(checkpoint: str) -> int:
    return int(checkpoint.rsplit("-", 1)[-1])


@pytest.fixture(scope="module")
def records(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("fault-data")
    proc = _mnist(
        ["serialize", "with", "quick", f"dataset.data_dir={tmp / 'records'}"], tmp / "runs", tmp
    )
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err[-3000:]
    return tmp / "records"


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_signal_during_training_interrupts_saves_and_resumes(records, tmp_path, sig):
    model_dir, runs = tmp_path / "model", tmp_path / "runs"
    args = ["with", "quick", f"dataset.data_dir={records}", f"model_dir={model_dir}", "steps=3000"]
    args += ["eval_every=3000", "export_savedmodel=False"]
    proc = _mnist(args, runs, tmp_path)
    deadline = time.monotonic() + 240
    # The first checkpoint (step 0) is written when the training session starts.
    while tf.train.latest_checkpoint(str(model_dir)) is None:
        assert proc.poll() is None, proc.communicate()[1][-3000:]
        assert time.monotonic() < deadline, "training never started"
        time.sleep(0.2)
    time.sleep(1.0)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 1, err[-3000:]
    assert "Traceback" not in err
    assert f"training stopped by {sig.name}" in err
    record = json.loads((runs / "1" / "run.json").read_text())
    assert record["status"] == "INTERRUPTED"
    last = tf.train.latest_checkpoint(str(model_dir))
    stopped_at = _step(last)
    assert 0 < stopped_at < 3000
    reader = tf.train.load_checkpoint(last)  # the checkpoint is whole and readable
    assert reader.get_tensor("global_step") == stopped_at
    if sig == signal.SIGTERM:
        return
    # Re-running with the same model_dir resumes and ends at the configured step count.
    target = stopped_at + 10
    rerun = _mnist([*args[:4], f"steps={target}", f"eval_every={target}"], runs, tmp_path)
    out, err = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, err[-3000:]
    assert _step(tf.train.latest_checkpoint(str(model_dir))) == target
    info = json.loads((runs / "2" / "info.json").read_text())
    assert info["resumed_from_step"] == stopped_at
    metrics = json.loads((runs / "2" / "metrics.json").read_text())
    assert metrics["eval.accuracy"]["steps"] == [target]
    assert min(metrics["train.loss"]["steps"]) == stopped_at + 1


def test_unreachable_mongo_fails_fast_on_the_command_line(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    start = time.monotonic()
    proc = _mnist(["with", "quick", "-m", f"127.0.0.1:{port}:reproml"], tmp_path / "runs", tmp_path)
    out, err = proc.communicate(timeout=120)
    elapsed = time.monotonic() - start
    assert proc.returncode == 1
    assert f"could not reach MongoDB at 127.0.0.1:{port}" in err
    assert "Traceback" not in err
    assert elapsed < 60  # TF import included; the ping itself gives up after 3 s
    assert not (tmp_path / "runs").exists()  # nothing recorded, nothing trained
