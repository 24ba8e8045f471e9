"""The layers of docs/architecture.md hold, counting every import.

`.importlinter` is the one statement of the layers: `lint-imports` checks every ``import``
(top level and inside functions); these tests read the same layers from it to check what
import-linter cannot see, the ``lazy_import("reproml.x")`` strings, and that a function-level
import of a reproml module only defers a heavy one (it says so with a ``# heavy:`` comment).
"""

from __future__ import annotations

import ast
import configparser
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CONTRACT = ROOT / ".importlinter"
HEAVY_MARK = "# heavy:"


def contract_layers(path: Path = CONTRACT) -> list[tuple[frozenset[str], bool]]:
    """The layers of the contract, top first: ``(package names, independent of each other)``."""
    parser = configparser.ConfigParser()
    parser.read(path, encoding="utf-8")
    layers = []
    for line in parser["importlinter:contract:layers"]["layers"].split("\n"):
        line = line.strip()
        if not line:
            continue
        delimiter = ":" if ":" in line else "|"
        names = frozenset(name.strip().strip("()") for name in line.split(delimiter))
        layers.append((names, delimiter == "|"))
    return layers


def package_of(module: str) -> str | None:
    """``reproml.runs.seal`` -> ``runs``; ``reproml.errors`` -> ``errors``; None outside reproml."""
    parts = module.split(".")
    if parts[0] != "reproml" or len(parts) < 2:
        return None
    return parts[1]


def module_name(path: Path, root: Path = ROOT) -> str:
    """The dotted module name of a file under `root`."""
    return ".".join(path.relative_to(root).with_suffix("").parts).removesuffix(".__init__")


def layer_violation(
    importer: str, imported: str, layers: list[tuple[frozenset[str], bool]]
) -> str | None:
    """Why `importer` may not import `imported` (module names), or None when it may."""
    source, target = package_of(importer), package_of(imported)
    if source is None or target is None or source == target:
        return None
    index = {name: i for i, (names, _) in enumerate(layers) for name in names}
    for package in (source, target):
        if package not in index:
            return f"reproml.{package} is in no layer of {CONTRACT.name}"
    if index[target] < index[source]:
        return f"reproml.{source} is below reproml.{target}"
    if index[target] == index[source] and layers[index[source]][1]:
        return f"reproml.{source} and reproml.{target} are independent layers"
    return None


def lazy_imports(root: Path = ROOT) -> Iterator[tuple[str, int, str]]:
    """Every ``lazy_import("reproml...")`` in reproml: ``(module, line, imported module)``."""
    for path in sorted((root / "reproml").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and getattr(node.func, "id", getattr(node.func, "attr", None)) == "lazy_import"
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and str(node.args[0].value).startswith("reproml.")
            ):
                yield module_name(path, root), node.lineno, node.args[0].value


def unmarked_function_imports(root: Path = ROOT) -> list[str]:
    """``file:line`` of every import of a reproml module inside a function without `HEAVY_MARK`."""
    found = []
    for path in sorted((root / "reproml").rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        lines = text.splitlines()
        tree = ast.parse(text)
        for function in ast.walk(tree):
            if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for node in ast.walk(function):
                if isinstance(node, ast.Import):
                    modules = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom):
                    modules = ["reproml." if node.level else node.module or ""]
                else:
                    continue
                if not any(m == "reproml" or m.startswith("reproml.") for m in modules):
                    continue
                statement = lines[node.lineno - 1 : node.end_lineno]
                if not any(HEAVY_MARK in line for line in statement):
                    found.append(f"{path.relative_to(root)}:{node.lineno}: {statement[0].strip()}")
    return sorted(set(found))


def test_contract_names_every_package_of_reproml():
    layers = contract_layers()
    named = set().union(*(names for names, _ in layers))
    packages = {p.name for p in (ROOT / "reproml").iterdir() if (p / "__init__.py").is_file()}
    modules = {p.stem for p in (ROOT / "reproml").glob("*.py") if p.stem != "__init__"}
    assert packages | modules <= named, f"not in {CONTRACT.name}: {(packages | modules) - named}"


def test_lint_imports_keeps_the_layers():
    """import-linter, on every import of reproml (also those inside functions)."""
    lint_imports = Path(sys.executable).with_name("lint-imports")
    env = dict(
        os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
    )
    done = subprocess.run(
        [str(lint_imports), "--config", str(CONTRACT), "--no-cache"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, re.sub(r"\x1b\[[0-9;]*m", "", done.stdout + done.stderr)


def test_lazy_imports_keep_the_layers():
    """import-linter does not see ``lazy_import("reproml.x")``: the same layers, checked here."""
    layers = contract_layers()
    broken = [
        f"{module}:{line} lazy_import({target!r}): {why}"
        for module, line, target in lazy_imports()
        if (why := layer_violation(module, target, layers))
    ]
    assert not broken, "\n".join(broken)


def test_function_level_imports_only_defer_heavy_modules():
    """An import of reproml inside a function says which heavy module it defers, else it is
    at the top (an import moved into a function to dodge a cycle hides a broken layer)."""
    unmarked = unmarked_function_imports()
    assert not unmarked, (
        f"import at the top, or mark the heavy module it defers ({HEAVY_MARK} TensorFlow):\n"
        + "\n".join(unmarked)
    )


LAYERS = [(frozenset({"cli"}), False), (frozenset({"board", "drift"}), True)]
LAYERS += [(frozenset({"runs"}), False), (frozenset({"errors", "lazy"}), True)]


@pytest.mark.parametrize(
    ("importer", "imported", "expected"),
    [
        ("reproml.cli.main", "reproml.runs.seal", None),
        ("reproml.runs.seal", "reproml.errors", None),
        ("reproml.runs.seal", "reproml.runs.record", None),
        ("reproml.runs.seal", "reproml.cli.main", "reproml.runs is below reproml.cli"),
        ("reproml.board", "reproml.drift.run", "reproml.board and reproml.drift are independent"),
        ("reproml.errors", "reproml.lazy", "reproml.errors and reproml.lazy are independent"),
        ("reproml.runs.seal", "reproml.train.loop", "reproml.train is in no layer"),
        ("reproml.runs.seal", "tensorflow", None),
    ],
)
def test_layer_violation_table(importer, imported, expected):
    why = layer_violation(importer, imported, LAYERS)
    assert (why is None) if expected is None else (why or "").startswith(expected), why


def test_checks_catch_a_planted_lazy_import_and_an_unmarked_function_import(tmp_path):
    package = tmp_path / "reproml" / "runs"
    package.mkdir(parents=True)
    (package / "planted.py").write_text(
        "from reproml.lazy import lazy_import\n"
        'cli = lazy_import("reproml.cli.main")\n'
        "def f():\n"
        "    from reproml.runs import seal\n"
        "    from reproml.records import writer  # heavy: TensorFlow\n"
        "    from reproml.records.reader import (  # heavy: TensorFlow\n"
        "        input_fn,\n"
        "    )\n"
        "    import json\n"
    )
    assert list(lazy_imports(tmp_path)) == [("reproml.runs.planted", 2, "reproml.cli.main")]
    assert layer_violation("reproml.runs.planted", "reproml.cli.main", LAYERS)
    assert unmarked_function_imports(tmp_path) == [
        "reproml/runs/planted.py:4: from reproml.runs import seal"
    ]
