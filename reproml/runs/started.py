"""How a run was started, recorded relative to its checkout, and how to start it again.

An experiment can live in any file: ``python path/to/exp.py with ...`` (a file) or
``python -m package.exp with ...`` (a module). A run records which in ``info["started"]``::

    {"kind": "file", "path": "studies/exp.py", "cwd": ".", "argv": ["with", "lr=0.1"]}
    {"kind": "module", "path": "experiments.mnist", "cwd": ".", "argv": [...]}

``path`` of a file and ``cwd`` are relative to the checkout (``info["code"]["repo"]``, else
the experiment's directory); ``argv`` is the command line after the file or module (None when
the experiment was run from Python, e.g. by ``reproml reproduce``). `load_experiment` imports
the experiment again the same way, from the checkout to re-run, and `experiment_command`
builds the command line `reproml sweep` and `reproml reproduce` start.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from reproml.errors import CliError

STARTED_INFO = "started"  # the info key holding how the run was started
KIND_FILE, KIND_MODULE = "file", "module"


def _relative(path: Path, base: Path) -> str:
    """`path` relative to `base` when inside it, else absolute."""
    try:
        return str(path.resolve().relative_to(base.resolve()))
    except ValueError:
        return str(path.resolve())


def _module_of(mainfile: Path) -> tuple[str, Any] | None:
    """The loaded module whose file is `mainfile`, with its name (``__main__`` first)."""
    main = sys.modules.get("__main__")
    candidates = [("__main__", main), *sys.modules.items()]
    for name, module in candidates:
        path = getattr(module, "__file__", None)
        if path and Path(path).resolve() == mainfile:
            return name, module
    return None


def started_from(mainfile: str | os.PathLike, base_dir: str | os.PathLike) -> dict[str, Any]:
    """Return ``info["started"]`` for an experiment defined in `mainfile` (see module docstring).

    Args:
      mainfile: the file the Sacred experiment was made in (``ex.mainfile.filename``).
      base_dir: the checkout holding it (``ex.base_dir``).
    """
    path, base = Path(mainfile).resolve(), Path(base_dir).resolve()
    found = _module_of(path)
    name, module = found if found else ("", None)
    spec = getattr(module, "__spec__", None)
    is_main = name == "__main__"
    if is_main and spec is not None and spec.name != "__main__":
        kind, where = KIND_MODULE, spec.name  # python -m package.exp
    elif not is_main and name and spec is not None and spec.origin and _importable(name, base):
        kind, where = KIND_MODULE, name  # imported by its module name from the checkout
    else:
        kind, where = KIND_FILE, _relative(path, base)
    return {
        "kind": kind,
        "path": where,
        "cwd": _relative(Path.cwd(), base),
        "argv": list(sys.argv[1:]) if is_main else None,
    }


def _importable(name: str, base: Path) -> bool:
    """Whether module `name` is the checkout's file ``<base>/<name as a path>.py``."""
    relative = Path(*name.split("."))
    return (base / relative.with_suffix(".py")).is_file() or (
        base / relative / "__init__.py"
    ).is_file()


def started_of(info: Mapping[str, Any], experiment: str) -> dict[str, Any]:
    """The recorded ``info["started"]``; a run recorded before it existed ran ``experiments.NAME``."""
    started = info.get(STARTED_INFO)
    if isinstance(started, dict) and started.get("kind") in (KIND_FILE, KIND_MODULE):
        return started
    return {"kind": KIND_MODULE, "path": f"experiments.{experiment}", "cwd": ".", "argv": None}


def describe(started: Mapping[str, Any]) -> str:
    """``python FILE`` or ``python -m MODULE``: how the run was started, for messages."""
    if started["kind"] == KIND_FILE:
        return f"python {started['path']}"
    return f"python -m {started['path']}"


def experiment_command(target: str, python: str = sys.executable) -> list[str]:
    """Return the command line that runs experiment `target`: a ``.py`` file, or a module name.

    A file is run by its absolute path (`reproml sweep` and relaunched tasks run it from any
    directory); a module with ``-m``.
    """
    if is_file_target(target):
        return [python, str(Path(target).resolve())]
    return [python, "-m", target]


def is_file_target(target: str) -> bool:
    """Whether `target` names an experiment file (else a module name)."""
    return target.endswith(".py") or os.sep in target


def load_experiment(started: Mapping[str, Any], repo: Path) -> Any:
    """Import the experiment recorded as `started` from the checkout `repo`; return its ``ex``.

    A file is imported by its path in `repo` (its directory first on ``sys.path``, as
    ``python FILE`` does); a module by its name with `repo` first on ``sys.path``.

    Raises:
      CliError: the file is outside `repo` or missing, the module name is not one, it cannot be
        imported, or it has no ``ex``.
    """
    where = started["path"]
    try:
        if started["kind"] == KIND_FILE:
            path = (repo / where).resolve()
            if not path.is_relative_to(repo.resolve()):  # a record is input: run nothing else
                raise CliError(f"the recorded experiment file {where} is outside {repo}")
            if not path.is_file():
                raise CliError(f"the experiment file {where} is not in {repo}")
            if str(path.parent) not in sys.path:
                sys.path.insert(0, str(path.parent))
            name = f"reproml_experiment_{path.stem}"
            spec = importlib.util.spec_from_file_location(name, path)
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module
            spec.loader.exec_module(module)
        else:
            if not all(part.isidentifier() for part in str(where).split(".")):
                raise CliError(f"the recorded experiment module {where!r} is not a module name")
            if str(repo) not in sys.path:
                sys.path.insert(0, str(repo))
            module = importlib.import_module(where)
    except CliError:
        raise
    except Exception as err:  # noqa: BLE001 - any import failure of user code is one line
        raise CliError(
            f"cannot import {describe(started)} from {repo} to re-run it "
            f"({type(err).__name__}: {err})"
        ) from None
    if not hasattr(module, "ex"):
        raise CliError(f"{describe(started)} has no Sacred experiment named `ex`")
    return module.ex


def run_cwd(started: Mapping[str, Any], repo: Path) -> Path:
    """The directory the run was started in, in `repo` (relative config paths resolve there).

    Raises:
      CliError: it is not a directory on this machine.
    """
    cwd = (repo / started.get("cwd", ".")).resolve()
    if not cwd.is_dir():
        raise CliError(f"the run was started in {cwd}, which is not a directory here")
    return cwd
