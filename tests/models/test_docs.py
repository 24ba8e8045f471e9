"""Runs the code blocks of docs/models.md in order, in one namespace."""

import pytest

from reproml.models import networks
from tests.doc_blocks import python_blocks, run_blocks

pytestmark = pytest.mark.slow


def test_docs_code_blocks_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    classifier_block, gan_block, network_file, use_network = python_blocks("docs/models.md")
    # The third block is the new network file: put it where the registry looks.
    (tmp_path / "netdir").mkdir()
    (tmp_path / "netdir" / "mlp.py").write_text(network_file)
    monkeypatch.setattr(networks, "__path__", [*networks.__path__, str(tmp_path / "netdir")])
    namespace = run_blocks([classifier_block, gan_block, use_network], "docs_models")
    assert namespace["metrics"]["confusion_matrix"].shape == (10, 10)
    assert "frechet_distance" in namespace["gan_metrics"]
    assert (tmp_path / "samples.png").is_file() and (tmp_path / "confusion.png").is_file()
    assert namespace["mlp"].get_variable_value("global_step") == 2
