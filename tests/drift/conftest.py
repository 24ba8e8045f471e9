"""Shared fixtures of the drift tests: digits records and one tiny tracked training run.

Everything runs on scikit-learn's bundled digits (the MNIST fallback), never on MNIST itself.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from reproml.drift.embeddings import Embeddings, ImageBatch

# The scenario every end-to-end test uses: the 300 test digits, 140 held out as the baseline,
# 8 windows of 40 drawn from the other 160, four of them degraded strongly enough that even a
# 20-step model's embedding moves (measured: p = 1 / (permutations + 1) for each).
SCENARIO = {
    "baseline_size": 140,
    "window_size": 40,
    "num_windows": 8,
    "degradations": [[1, "rotate", 60], [2, "blur", 2.5], [4, "noise", 0.6], [5, "contrast", 0.3]],
}
DEGRADED = [1, 2, 4, 5]
CLEAN = [0, 3, 6, 7]


@pytest.fixture(autouse=True)
def _quiet_tf_layers():
    """Hide the `tf.layers.* is deprecated` warnings (pytest resets the package's filter)."""
    warnings.filterwarnings("ignore", message=r"`tf\.layers\.\w+` is deprecated")


@pytest.fixture(scope="session")
def digits_test_records(tmp_path_factory):
    """The digits fallback in the MNIST layout as records: its 300-image test split only."""
    from reproml.datasets.mnist import load_digits_as_mnist, mnist_keys_to_handlers, mnist_rows
    from reproml.records.writer import write_records

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        arrays, source = load_digits_as_mnist("tests")
    record_dir = tmp_path_factory.mktemp("digits") / "records"
    write_records(
        record_dir,
        "{split}-{idx:05d}.tfrecord",
        mnist_keys_to_handlers(),
        100,
        {"test": len(arrays["y_test"])},
        lambda split: mnist_rows(arrays, split),
        source=source,
        splits=("test",),
        num_workers=1,
        progress=False,
    )
    return record_dir


@pytest.fixture(scope="session")
def training_run(tmp_path_factory):
    """One tracked quick run of experiments.mnist on all the digits (1497 train / 300 test).

    20 steps, one evaluation, SavedModel exported. Returns ``(run, data_dir, store)``.
    """
    from experiments.mnist import ex

    base = tmp_path_factory.mktemp("drift-run")
    store, data_dir = base / "runs", base / "records"
    mp = pytest.MonkeyPatch()
    mp.setenv("REPROML_RUNS_DIR", str(store))
    try:
        run = ex.run(
            config_updates={
                "dataset.data_dir": str(data_dir),
                "dataset.max_examples": None,
                "steps": 20,
                "eval_every": 20,
            },
            named_configs=["quick"],
        )
    finally:
        mp.undo()
    return run, data_dir, store


def synthetic_embeddings(embedding: np.ndarray, class_ids=None, timestamps=None) -> Embeddings:
    """Embeddings of blank 2x2 images (for tests of the statistics alone)."""
    n = len(embedding)
    class_ids = np.zeros(n, np.int64) if class_ids is None else np.asarray(class_ids)
    batch = ImageBatch(np.zeros((n, 2, 2, 1), np.uint8), None, timestamps)
    return Embeddings(
        np.asarray(embedding, np.float32), class_ids, np.full((n, 2), 0.5, np.float32), batch
    )
