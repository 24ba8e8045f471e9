import pytest


@pytest.fixture(scope="session")
def mnist_records(tmp_path_factory):
    """Tiny MNIST-layout records (digits fallback, no download), serialized once per session."""
    from experiments.mnist import ex

    data_dir = tmp_path_factory.mktemp("mnist") / "records"
    runs = tmp_path_factory.mktemp("serialize-runs")
    mp = pytest.MonkeyPatch()
    mp.setenv("REPROML_RUNS_DIR", str(runs))
    try:
        run = ex.run(
            "serialize", config_updates={"dataset.data_dir": str(data_dir)}, named_configs=["quick"]
        )
    finally:
        mp.undo()
    return data_dir, run.result
