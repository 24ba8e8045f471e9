"""Networks chosen by name: ``params["network"] = "cnn"`` means `reproml/models/networks/cnn.py`.

A new network is a new file in this folder, not an edit to a switch. A network module defines
one function per role it can play:

- ``classifier(images, params, training) -> (logits, embedding)``: `images` are float32 in
  [0, 1] of shape [B, H, W, C]; `embedding` is the penultimate layer [B, D].
- ``generator(noise, params) -> images`` in [-1, 1], and ``critic(images, params) -> scores``
  [B, 1] for a (Wasserstein) GAN.

Networks build their layers with `tf.compat.v1` so they run inside the Estimator's graph.

Reproducibility rule: every random op must take its seed from the graph (which
`RunConfig(tf_random_seed=...)` sets). `tf.compat.v1.layers` default to Keras initializers and
Keras dropout, which, unseeded, draw their seeds from Python's `random` module: two trainings in
one process then start from different weights. So pass ``kernel_initializer=glorot_uniform()``
(below) to every layer and use `tf.nn.dropout`, as `cnn.py` and `dcgan.py` do; the
determinism tests would catch a network that does not.
"""

from __future__ import annotations

import ast
import importlib
import pkgutil
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from reproml.errors import ConfigError
from reproml.lazy import lazy_import

tf = lazy_import("tensorflow")

# The networks use tf.compat.v1 layers on purpose (the Estimator builds graphs); each call would
# otherwise warn that `tf.layers.*` is deprecated, drowning the training log.
warnings.filterwarnings("ignore", message=r"`tf\.layers\.\w+` is deprecated", category=UserWarning)


def glorot_uniform() -> tf.compat.v1.keras.initializers.Initializer:
    """Return a Glorot-uniform initializer seeded by the graph seed (not Python's `random`)."""
    return tf.compat.v1.glorot_uniform_initializer()


def _network_sources() -> dict[str, Path]:
    """Map each network module's name to its source file, in every folder of ``__path__``.

    The first folder that holds a name wins, as ``importlib`` would import it.
    """
    sources: dict[str, Path] = {}
    for module in pkgutil.iter_modules(__path__):
        if module.name.startswith("_") or module.name in sources:
            continue
        folder = Path(module.module_finder.path)  # type: ignore[union-attr]
        sources[module.name] = (
            folder / module.name / "__init__.py" if module.ispkg else folder / f"{module.name}.py"
        )
    return sources


def _defined_functions(source_file: Path) -> set[str]:
    """The functions a network module defines at top level, read without importing it."""
    tree = ast.parse(source_file.read_text(encoding="utf-8"))
    return {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}


def available_networks(role: str | None = None) -> list[str]:
    """Return the names of the network modules in this folder (those defining `role`, if given).

    Roles are read from the modules' source (``def classifier(...)`` at top level), so a config
    is checked without importing TensorFlow.
    """
    sources = _network_sources()
    names = sorted(sources)
    if role is None:
        return names
    return [n for n in names if role in _defined_functions(sources[n])]


def get_network(name: str, role: str, entry: str = "network") -> Callable[..., Any]:
    """Return the `role` function (e.g. "classifier") of the network module `name`.

    Args:
      name: the module's name in `reproml/models/networks/` (e.g. "cnn").
      role: the function the module must define ("classifier", "generator" or "critic").
      entry: the config entry `name` came from, named in errors.

    Raises:
      ConfigError: no such network module, or it does not define `role`.
    """
    candidates = available_networks(role)
    if not isinstance(name, str) or name not in available_networks():
        raise ConfigError(entry, f"a network defining {role}() ({', '.join(candidates)})", name)
    module = importlib.import_module(f"{__name__}.{name}")
    if not hasattr(module, role):
        raise ConfigError(
            entry, f"a network defining {role}() ({', '.join(candidates)}); {name!r} does not", name
        )
    return getattr(module, role)


def image_shape_problem(
    name: str, image_shape: Sequence[int], entry: str = "network"
) -> str | None:
    """Return what network `name` needs of the image shape if `image_shape` does not meet it.

    A network module may define ``image_shape_problem(image_shape) -> str | None`` (e.g. dcgan:
    "[H, W, C] images with H and W divisible by 4"); networks without it take any [H, W, C].

    Raises:
      ConfigError: no network module `name` (named as config entry `entry`).
    """
    if not isinstance(name, str) or name not in available_networks():
        raise ConfigError(entry, f"one of the networks {available_networks()}", name)
    check = getattr(importlib.import_module(f"{__name__}.{name}"), "image_shape_problem", None)
    return None if check is None else check(tuple(int(d) for d in image_shape))
