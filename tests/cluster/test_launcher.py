"""`reproml launch`: a local TF_CONFIG cluster of processes; one chief, sharded input, clean stops."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from reproml.cli.main import main as cli_main
from reproml.cluster.launcher import EXIT_INTERRUPTED, launch
from reproml.runs.reproducibility import expectation_for

JOB = [sys.executable, "-m", "tests.cluster.tiny_job"]
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": ""}
STEPS = "10"


def run_job(out_dir, workers, ps=0):
    log = io.StringIO()
    code = launch(
        [*JOB, str(out_dir), "--steps", STEPS], workers, ps, timeout=240, env=ENV, out=log
    )
    return code, log.getvalue()


def roles(out_dir) -> dict[str, dict]:
    return {p.stem: json.loads(p.read_text()) for p in out_dir.glob("*.json") if p.stem != "run"}


@pytest.mark.slow
def test_two_worker_all_reduce_job_one_chief_sharded_input_and_exact_rerun(tmp_path):
    code, log = run_job(tmp_path / "a", workers=2)
    assert code == 0, log
    assert "[chief:0] chief0 done" in log and "[worker:0] worker0 done" in log
    assert "preserve tf.data options" not in log  # TF's graph-mode warning, filtered
    tasks = roles(tmp_path / "a")
    assert {name: r["is_chief"] for name, r in tasks.items()} == {"chief0": True, "worker0": False}
    assert tasks["chief0"]["strategy"] == "CollectiveAllReduceStrategy"
    # Each trainer reads whole shards by its index; the strategy's input_context agrees.
    assert tasks["chief0"]["shards"] == [0, 2] and tasks["worker0"]["shards"] == [1, 3]
    assert all(r["input_fn_shards"] == r["shards"] for r in tasks.values())
    record = json.loads((tmp_path / "a" / "run.json").read_text())  # only the chief records
    assert record["checkpoint"] == f"model.ckpt-{STEPS}"
    assert record["cluster"]["strategy"] == "collective"
    assert expectation_for(record["cluster"]).exact

    code, log = run_job(tmp_path / "b", workers=2)
    assert code == 0, log
    rerun = json.loads((tmp_path / "b" / "run.json").read_text())
    assert rerun["variables_sha256"] == record["variables_sha256"]  # bit-identical weights


@pytest.mark.slow
def test_parameter_server_job_stops_the_ps_after_the_trainers(tmp_path):
    code, log = run_job(tmp_path, workers=2, ps=1)
    assert code == 0, log
    assert "job succeeded: ps:0 rc=-15, chief:0 rc=0, worker:0 rc=0" in log  # ps: SIGTERM
    tasks = roles(tmp_path)
    assert sorted(tasks) == ["chief0", "worker0"]  # a ps never gets past server.join
    assert tasks["chief0"]["is_chief"] and not tasks["worker0"]["is_chief"]
    record = json.loads((tmp_path / "run.json").read_text())
    assert record["checkpoint"] == f"model.ckpt-{STEPS}"
    expectation = expectation_for(record["cluster"])
    assert not expectation.exact and "asynchronous parameter-server" in expectation.describe()


# Tasks without TensorFlow: what the launcher does with processes, in a second or two.
SLEEPER = """
import json, os, sys, time
task = json.loads(os.environ["TF_CONFIG"])["task"]
open(os.path.join(sys.argv[1], f"{task['type']}{task['index']}.pid"), "w").write(str(os.getpid()))
print("ready", flush=True)
if task["type"] == sys.argv[2]:
    while len([f for f in os.listdir(sys.argv[1]) if f.endswith(".pid")]) < int(sys.argv[3]):
        time.sleep(0.05)  # fail once every task has started
    print("failing now", flush=True)
    sys.exit(3)
time.sleep(120)
"""


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def pids(tmp_path) -> dict[str, int]:
    return {p.stem: int(p.read_text()) for p in tmp_path.glob("*.pid")}


def wait_for(condition, seconds=30.0):
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_a_failing_task_stops_every_other_task(tmp_path):
    log = io.StringIO()
    code = launch([sys.executable, "-c", SLEEPER, str(tmp_path), "worker", "4"], 3, 1, out=log)
    text = log.getvalue()
    assert code == 3
    assert "[worker:0] failing now" in text or "[worker:1] failing now" in text
    assert "failed: stopping the other tasks" in text
    started = pids(tmp_path)
    assert sorted(started) == ["chief0", "ps0", "worker0", "worker1"]
    assert not any(alive(pid) for pid in started.values())


def test_ctrl_c_stops_every_task(tmp_path):
    launcher = subprocess.Popen(
        [sys.executable, "-m", "reproml.cli.main", "launch", "--workers", "2", "--ps", "1",
         "--", sys.executable, "-c", SLEEPER, str(tmp_path), "none", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    wait_for(lambda: len(pids(tmp_path)) == 3)
    time.sleep(0.5)
    launcher.send_signal(signal.SIGINT)
    output, _ = launcher.communicate(timeout=60)
    assert launcher.returncode == EXIT_INTERRUPTED, output
    assert "[launch] interrupted: stopping every task" in output
    assert "[ps:0] ready" in output and "[chief:0] ready" in output
    assert not any(alive(pid) for pid in pids(tmp_path).values())


def test_timeout_fails_the_job(tmp_path):
    log = io.StringIO()
    code = launch(
        [sys.executable, "-c", SLEEPER, str(tmp_path), "none", "0"], 1, timeout=1.0, out=log
    )
    assert code == 124
    assert "timeout after 1s" in log.getvalue()


def test_launch_without_a_command_is_a_one_line_error(capsys):
    assert cli_main(["launch", "--workers", "2"]) == 2
    assert "reproml launch: error: launch needs a command after --" in capsys.readouterr().err
