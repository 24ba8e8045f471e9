"""A one-second Sacred experiment that records what ``experiments.mnist`` records for review.

``train.loss`` and ``train.steps_per_sec`` (~20, a throughput) per step, ``eval.accuracy`` and
per-class ``eval.precision/<class>`` at two evaluations, ``confusion_matrix.png`` and
``sample_predictions.png`` artifacts, a result, its source (so git info), a config with a
docstring (Sacred's ``__doc__``) and a nested dict (``data``) — without TensorFlow.
It fails when ``fail=True`` (a FAILED run), stays RUNNING for ``hold`` seconds, and returns a
dict with ``named_result=True``. Used where a test needs many runs quickly::

    python -m tests.board.toy_experiment -F runs -m 127.0.0.1:PORT:DB with lr=0.2
"""

# ruff: noqa: F841
from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image
from sacred import Experiment

ex = Experiment("toy_review")


CLASSES = ("circle", "square")


@ex.config
def config():
    """A toy review run."""
    data = {"name": "toy_shapes", "classes": list(CLASSES)}  # a dataset entry, as ingredients have
    lr = 0.1  # learning rate
    steps = 10  # steps
    fail = False  # raise after training
    hold = 0.0  # seconds to stay RUNNING after training (a running run for the boards)
    named_result = False  # return {"accuracy": ..., "loss": ...} instead of a float


@ex.main
def main(_run, lr: float, steps: int, fail: bool, hold: float, named_result: bool):
    rng = np.random.RandomState(_run.config["seed"] % 2**31)
    for step in range(1, steps + 1):
        _run.log_scalar("train.loss", float(2.0 / (1 + lr * step) + rng.rand() / 10), step)
        _run.log_scalar("train.steps_per_sec", float(18 + 4 * rng.rand()), step)
        if step % (steps // 2) == 0:
            _run.log_scalar("eval.accuracy", float(min(0.99, lr * step / 2)), step)
            for index, name in enumerate(CLASSES):
                value = float(min(0.99, lr * step / (2 + index)))
                _run.log_scalar(f"eval.precision/{name}", value, step)
    tmp = Path(tempfile.mkdtemp())
    for name, size in (("confusion_matrix.png", (40, 40)), ("sample_predictions.png", (64, 32))):
        pixels = (rng.rand(size[1], size[0]) * 255).astype(np.uint8)
        Image.fromarray(pixels).save(tmp / name)
        _run.add_artifact(str(tmp / name), name=name)
    time.sleep(hold)
    if fail:
        raise RuntimeError("toy failure")
    accuracy = float(min(0.99, lr * steps / 2))
    return {"accuracy": accuracy, "loss": round(1 - accuracy, 4)} if named_result else accuracy


if __name__ == "__main__":
    ex.run_commandline()
