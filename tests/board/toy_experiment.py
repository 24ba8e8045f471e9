"""A one-second Sacred experiment that records what ``experiments.mnist`` records for review.

``train.loss`` per step, ``eval.accuracy`` at two evaluations, ``confusion_matrix.png`` and
``sample_predictions.png`` artifacts, a result, its source (so git info) — without TensorFlow.
It fails when ``fail=True`` (a FAILED run). Used where a test needs many runs quickly::

    python -m tests.board.toy_experiment -F runs -m 127.0.0.1:PORT:DB with lr=0.2
"""

# ruff: noqa: F841
from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
from PIL import Image
from sacred import Experiment

ex = Experiment("toy_review")


@ex.config
def config():
    lr = 0.1  # learning rate
    steps = 10  # steps
    fail = False  # raise after training


@ex.main
def main(_run, lr: float, steps: int, fail: bool) -> float:
    rng = np.random.RandomState(_run.config["seed"] % 2**31)
    for step in range(1, steps + 1):
        _run.log_scalar("train.loss", float(2.0 / (1 + lr * step) + rng.rand() / 10), step)
        if step % (steps // 2) == 0:
            _run.log_scalar("eval.accuracy", float(min(0.99, lr * step / 2)), step)
    tmp = Path(tempfile.mkdtemp())
    for name, size in (("confusion_matrix.png", (40, 40)), ("sample_predictions.png", (64, 32))):
        pixels = (rng.rand(size[1], size[0]) * 255).astype(np.uint8)
        Image.fromarray(pixels).save(tmp / name)
        _run.add_artifact(str(tmp / name), name=name)
    if fail:
        raise RuntimeError("toy failure")
    return float(min(0.99, lr * steps / 2))


if __name__ == "__main__":
    ex.run_commandline()
