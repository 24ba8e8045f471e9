"""The code blocks of docs/mnist_data.md, then docs/inputs.md, run and print what they say."""

from __future__ import annotations

import pytest

from reproml.datasets.mnist import MnistFallbackWarning
from tests.doc_blocks import python_blocks, run_blocks


@pytest.mark.filterwarnings("ignore", category=MnistFallbackWarning)
def test_mnist_data_and_inputs_pages_run_as_written(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # the pages write records/ and my_mnist.npz, read empty-cache/
    blocks = python_blocks("docs/mnist_data.md") + python_blocks("docs/inputs.md")
    assert len(blocks) == 3
    run_blocks(blocks, "docs_inputs")
    assert capsys.readouterr().out.splitlines() == [
        "sklearn-digits {'x_train': ('uint8', (1497, 28, 28)), 'y_train': ('uint8', (1497,)), "
        "'x_test': ('uint8', (300, 28, 28)), 'y_test': ('uint8', (300,))}",
        "sklearn-digits 300 91117ce3825b",
        "False 64 ['MnistFileWarning']",
        "path (60, 28, 28) int64",
        "uint8 (32, 28, 28, 1) int64 [8 8 6 4 1 0 9 9]",
        "[100, 100, 100]",
        "[6, 4, 0, 7, 0, 8, 7, 3]",
        "records 300",
    ]
