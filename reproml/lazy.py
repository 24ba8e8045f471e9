"""Deferred imports: commands that only read the config never load TensorFlow.

Importing TensorFlow takes seconds. ``print_config``, ``print_named_configs``, a config error
and the ``reproml`` CLI do not need it, so a module on their path (an experiment, an
ingredient, `reproml.tracking`, `reproml.records.reader`) names its heavy dependencies with
`lazy_import` where it would write ``import``::

    tf = lazy_import("tensorflow")            # module level, where the import was
    plots = lazy_import("reproml.models.plots")

    def f():
        return tf.data.AUTOTUNE               # TensorFlow is imported here, on first use

`import_deferred` imports every module named so far (and those their own imports defer).
`reproml.tracking.experiment.track` calls it before Sacred creates a run of any command that
does work, so a run starts with the same modules loaded as if they were imported at the top:
Sacred records the same sources and seeds TensorFlow, as it always did.

An import inside a function keeps its usual meaning: a dependency of that code path only.

Why not the standard library's `importlib.util.LazyLoader`: it puts a lazy module object into
``sys.modules``, and Sacred, when it creates the run of any command (``print_config``
included), walks ``sys.modules`` for sources and dependencies (`sacred.dependencies`,
``iterate_sys_modules``), reading each module's attributes: that would import TensorFlow at the
very moment this module exists to avoid. A proxy bound to a name in the importing module stays
out of ``sys.modules`` until it is used.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

_DEFERRED: dict[str, LazyModule] = {}


class LazyModule:
    """A module imported on its first attribute access (see `lazy_import`).

    Args:
      name: the module's absolute name, e.g. ``"tensorflow"``.
    """

    __slots__ = ("_name", "_module")

    def __init__(self, name: str) -> None:
        self._name = name
        self._module: ModuleType | None = None

    @property
    def loaded(self) -> bool:
        """Whether the module has been imported through this proxy."""
        return self._module is not None

    def load(self) -> ModuleType:
        """Import the module (once) and return it."""
        if self._module is None:
            self._module = importlib.import_module(self._name)
        return self._module

    def __getattr__(self, attr: str) -> Any:
        return getattr(self.load(), attr)

    def __repr__(self) -> str:
        state = "loaded" if self.loaded else "not loaded yet"
        return f"<lazy module {self._name!r} ({state})>"


def lazy_import(name: str) -> Any:
    """Return a stand-in for module `name` that imports it on first attribute access.

    The same stand-in is returned for the same name; `import_deferred` imports them all.

    Args:
      name: the module's absolute name (``"tensorflow"``, ``"reproml.models.plots"``).
    """
    proxy = _DEFERRED.get(name)
    if proxy is None:
        proxy = _DEFERRED[name] = LazyModule(name)
    return proxy


def import_deferred() -> list[str]:
    """Import every module named with `lazy_import` so far, and those their imports name.

    Returns:
      The names of the deferred modules, sorted.
    """
    done: set[str] = set()
    while pending := [proxy for name, proxy in list(_DEFERRED.items()) if name not in done]:
        for proxy in pending:
            proxy.load()
            done.add(proxy._name)
    return sorted(done)
