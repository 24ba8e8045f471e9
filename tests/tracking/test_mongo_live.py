"""Against a real MongoDB: only when REPROML_TEST_MONGO_URL is set (skipped otherwise)."""

import os
import uuid

import pytest

from reproml.tracking.experiment import ReproExperiment
from reproml.tracking.observers import connect_mongo, mongo_target_from_url

LIVE_URL = os.environ.get("REPROML_TEST_MONGO_URL")
pytestmark = [
    pytest.mark.mongo_live,
    pytest.mark.skipif(not LIVE_URL, reason="REPROML_TEST_MONGO_URL is not set (no live MongoDB)"),
]


def test_run_recorded_in_live_mongo(monkeypatch, tmp_path):
    db_name = f"reproml_test_{uuid.uuid4().hex[:8]}"
    base, _, query = LIVE_URL.partition("?")
    scheme, rest = base.split("://", 1)
    # Same server and options (e.g. authSource), a throwaway database.
    url = f"{scheme}://{rest.split('/')[0]}/{db_name}" + (f"?{query}" if query else "")
    monkeypatch.setenv("REPROML_MONGO_URL", url)
    monkeypatch.setenv("REPROML_RUNS_DIR", str(tmp_path / "runs"))
    ex = ReproExperiment("live", record_code_state=False)

    @ex.main
    def main(_run):
        for step in range(3):
            _run.log_scalar("train.loss", 1.0 / (step + 1), step)
        return 1.5

    db = connect_mongo(mongo_target_from_url(url))
    try:
        run = ex.run()
        doc = db.runs.find_one({"_id": run._id})
        assert doc["status"] == "COMPLETED" and doc["result"] == 1.5
        metric = db.metrics.find_one({"run_id": run._id, "name": "train.loss"})
        assert metric["steps"] == [0, 1, 2]
    finally:
        db.client.drop_database(db_name)
