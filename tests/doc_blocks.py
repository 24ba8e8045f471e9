"""The code blocks of a Markdown page, for tests that run the docs as written."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def python_blocks(page: str | Path) -> list[str]:
    """Returns the ```python blocks of `page` (a path relative to the repository root), in order."""
    text = (ROOT / page).read_text(encoding="utf-8")
    return re.findall(r"^```python\n(.*?)^```$", text, flags=re.DOTALL | re.MULTILINE)


def run_blocks(blocks: list[str], name: str) -> dict:
    """Runs `blocks` in order in one namespace and returns it."""
    namespace: dict = {"__name__": name}
    for i, block in enumerate(blocks):
        exec(compile(block, f"{name}:block{i}", "exec"), namespace)
    return namespace
