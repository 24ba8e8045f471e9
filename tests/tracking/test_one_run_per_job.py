"""A TF_CONFIG job is one Sacred run: only the chief records; the others record nothing."""

import json

import pytest
from sacred import Experiment

from reproml.tracking import experiment as rx

CLUSTER = {"chief": ["127.0.0.1:1"], "worker": ["127.0.0.1:2"], "ps": ["127.0.0.1:3"]}


def _run(monkeypatch, tmp_path, task):
    monkeypatch.setenv("REPROML_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.delenv("REPROML_MONGO_URL", raising=False)
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": CLUSTER, "task": task}))
    ex = rx.track(Experiment("job"), record_code_state=False)

    @ex.main
    def main(_run):
        _run.log_scalar("train.loss", 1.0, 1)
        return 2.0

    return ex.run()


@pytest.mark.parametrize(
    "task", [{"type": "worker", "index": 0}, {"type": "ps", "index": 0}, {"type": "evaluator"}]
)
def test_tasks_other_than_the_chief_record_nothing(monkeypatch, tmp_path, task):
    run = _run(monkeypatch, tmp_path, task)
    assert run.result == 2.0 and run.observers == []
    assert not (tmp_path / "runs").exists()


def test_the_chief_records_the_run_with_the_cluster(monkeypatch, tmp_path):
    run = _run(monkeypatch, tmp_path, {"type": "chief", "index": 0})
    info = json.loads((tmp_path / "runs" / "1" / "info.json").read_text())
    assert info["cluster"] == {"cluster": CLUSTER, "task": {"type": "chief", "index": 0}}
    assert run.result == 2.0


def test_a_malformed_tf_config_is_one_clear_error(monkeypatch, tmp_path):
    monkeypatch.setenv("TF_CONFIG", "{not json")
    ex = rx.track(Experiment("job"), record_code_state=False)
    ex.main(lambda: 1)
    with pytest.raises(Exception, match="config entry 'TF_CONFIG': expected JSON"):
        ex.run()
