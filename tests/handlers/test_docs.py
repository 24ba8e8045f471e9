"""Runs the code blocks of docs/handlers.md, in order, in one namespace."""

from tests.doc_blocks import python_blocks, run_blocks

DOC = "docs/handlers.md"


def test_docs_page_has_the_four_examples():
    blocks = python_blocks(DOC)
    assert len(blocks) == 4
    assert "ImageArrayHandler(shape=(128, 128)" in blocks[0] and "(91, 91)" in blocks[0]
    assert "ImageFileHandler(" in blocks[1]
    assert "EncodedImageHandler(size=(32, 32)" in blocks[2] and "MaskHandler.for_image" in blocks[2]
    assert "class BoxHandler(FeatureHandler)" in blocks[3]


def test_docs_code_blocks_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the file example writes digit.png
    namespace = run_blocks(python_blocks(DOC), "docs_handlers")
    assert (tmp_path / "digit.png").is_file()
    assert namespace["decoded"].shape == (128, 128)
    assert namespace["batch"]["image"].shape == (2, 32, 32, 3)
