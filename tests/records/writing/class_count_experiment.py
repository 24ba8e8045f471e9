"""A tiny tracked experiment that records a record directory as its dataset and prints its summary."""

from __future__ import annotations

from sacred import Experiment

from reproml.tracking import experiment as rx
from reproml.tracking.recording import record_dataset

ex = rx.track(Experiment("class_counts"), record_code_state=False)


@ex.config
def config():
    record_dir = ""  # noqa: F841 (a Sacred config entry) the records recorded as the dataset


@ex.main
def main(_run, record_dir):
    record_dataset(_run, record_dir, "objects")
    rx.print_run_summary(_run, "examples", 0)
    return 0
