"""Runs the code blocks of docs/handlers.md, in order, in one namespace."""

import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "handlers.md"


def python_blocks(text: str) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```$", text, flags=re.DOTALL | re.MULTILINE)


def test_docs_page_has_the_three_examples():
    blocks = python_blocks(DOC.read_text(encoding="utf-8"))
    assert len(blocks) == 3
    assert "ImageArrayHandler(shape=(128, 128)" in blocks[0] and "(91, 91)" in blocks[0]
    assert "ImageFileHandler(" in blocks[1]
    assert "class BoxHandler(FeatureHandler)" in blocks[2]


def test_docs_code_blocks_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the file example writes digit.png
    namespace: dict = {"__name__": "docs_handlers"}
    for i, block in enumerate(python_blocks(DOC.read_text(encoding="utf-8"))):
        exec(compile(block, f"{DOC}:block{i}", "exec"), namespace)
    assert (tmp_path / "digit.png").is_file()
    assert namespace["decoded"].shape == (128, 128)
