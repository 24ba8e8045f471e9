"""The README's code runs as written, and its two set-up commands are the Makefile's."""

import re

import numpy as np
import pytest

from tests.doc_blocks import ROOT, python_blocks, run_blocks

pytestmark = pytest.mark.slow


def test_readme_examples_run_and_print_what_they_say(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # the examples write data/digits relative to the working dir
    namespace = run_blocks(python_blocks("README.md"), "readme")
    manifest = namespace["manifest"]
    assert (tmp_path / "data" / "digits" / "manifest.json").is_file()
    assert manifest.source["name"] in ("mnist", "sklearn-digits")
    assert manifest.fingerprint == manifest.compute_fingerprint()
    assert namespace["features"]["image"].shape == (32, 28, 28, 1)
    assert namespace["features"]["image"].dtype.name == "uint8"
    feature = namespace["TemperatureHandler"]().handle({"temp": 212}, "temp")["temp"]
    np.testing.assert_allclose(feature.float_list.value, [100.0])
    out = capsys.readouterr().out
    assert f"{manifest.fingerprint[:12]}" in out and "float_list" in out


def test_readme_set_up_commands_are_make_targets():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    commands = re.findall(r"^make (\w+)", readme, flags=re.MULTILINE)
    assert commands == ["demo", "test"]
    for target in commands:
        assert re.search(rf"^{target}:", makefile, flags=re.MULTILINE), target
