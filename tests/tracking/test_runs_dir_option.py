"""``-R/--runs_dir`` on Sacred's command line: the file store the run is recorded in."""

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
EXPERIMENT = """
from sacred import Experiment
from reproml.tracking import experiment as rx
ex = rx.track(Experiment("tiny"), record_code_state=False)
@ex.main
def main():
    return 7
if __name__ == "__main__":
    rx.run_commandline(ex)
"""


def test_runs_dir_flag_chooses_the_file_store(tmp_path):
    (tmp_path / "tiny.py").write_text(EXPERIMENT)
    env = dict(os.environ, PYTHONPATH=str(REPO), REPROML_RUNS_DIR=str(tmp_path / "default"))
    env.pop("REPROML_MONGO_URL", None)
    done = subprocess.run(
        [sys.executable, "tiny.py", "-R", str(tmp_path / "chosen")],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "chosen" / "1" / "run.json").is_file()
    assert not (tmp_path / "default").exists()
    assert f"run 1 recorded in {tmp_path / 'chosen' / '1'}" not in done.stdout  # no summary asked
