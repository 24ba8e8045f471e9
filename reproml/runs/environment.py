"""The software environment of a run (``pip freeze``) and how another one differs from it.

A run records ``pip freeze --all`` of its interpreter as the artifact ``pip-freeze.txt``
(`reproml.tracking.recording.record_environment`, which calls `pip_freeze`) and Sacred records the
Python version in ``host.python_version``. `environment_differences` compares both with another
environment (the one `reproml reproduce` re-runs in) and names what changed: Python, TensorFlow,
then every other package added, removed or at another version. Package names are compared in
their canonical form (``packaging.utils.canonicalize_name``: ``Foo_Bar`` is ``foo-bar``).
"""

from __future__ import annotations

import subprocess
import sys

from packaging.utils import canonicalize_name

# The distributions TensorFlow comes as; the first one installed names its version.
TENSORFLOW_DISTRIBUTIONS = ("tensorflow", "tensorflow-cpu", "tensorflow-intel", "tf-nightly")
MAX_PACKAGES_NAMED = 8


def pip_freeze() -> str:
    """Return ``pip freeze --all`` of the running interpreter.

    Raises:
      RuntimeError: pip failed (its message, shortened).
    """
    result = subprocess.run(
        [sys.executable, "-m", "pip", "freeze", "--all"],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    if result.returncode != 0:
        raise RuntimeError(f"pip freeze failed: {result.stderr.strip()[:500]}")
    return result.stdout


def parse_freeze(text: str) -> dict[str, str]:
    """Return ``{canonical name: version}`` of a ``pip freeze`` output.

    ``name==1.2`` gives ``1.2``; ``name @ URL`` gives ``@ URL``; an editable ``-e PATH`` line (with
    ``#egg=name``, else named by its path) gives ``-e PATH``. Comments and blank lines are skipped.
    """
    packages = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("-e "):
            location = line[3:].strip()
            name = location.split("#egg=", 1)[1] if "#egg=" in location else location
            packages[canonicalize_name(name.split("&", 1)[0])] = f"-e {location.split('#', 1)[0]}"
        elif " @ " in line:
            name, url = line.split(" @ ", 1)
            packages[canonicalize_name(name)] = f"@ {url.strip()}"
        elif "==" in line:
            name, version = line.split("==", 1)
            packages[canonicalize_name(name)] = version.strip()
        else:
            packages[canonicalize_name(line)] = ""
    return packages


def tensorflow_version(packages: dict[str, str]) -> tuple[str, str] | None:
    """Return ``(distribution, version)`` of TensorFlow in parsed `packages`, else None."""
    for name in TENSORFLOW_DISTRIBUTIONS:
        if name in packages:
            return name, packages[name]
    return None


def _shown(tensorflow: tuple[str, str] | None) -> str | None:
    """``2.15.1`` for the ``tensorflow`` distribution, ``tensorflow-cpu 2.15.1`` for another."""
    if tensorflow is None:
        return None
    name, version = tensorflow
    return version if name == "tensorflow" else f"{name} {version}"


def _changed(old: str | None, new: str | None) -> str:
    return f"{old or 'not recorded'} -> {new or 'not installed'}"


def package_changes(recorded: dict[str, str], current: dict[str, str]) -> list[str]:
    """Return ``name OLD -> NEW`` for every package whose version differs, added or removed."""
    changes = []
    for name in sorted(set(recorded) | set(current)):
        old, new = recorded.get(name), current.get(name)
        if old == new:
            continue
        if old is None:
            changes.append(f"{name} added ({new})")
        elif new is None:
            changes.append(f"{name} removed (was {old})")
        else:
            changes.append(f"{name} {old} -> {new}")
    return changes


def environment_differences(
    recorded_freeze: str | None,
    recorded_python: str | None,
    current_freeze: str,
    current_python: str,
) -> list[str]:
    """Return how the current environment differs from a run's (empty: the same).

    Args:
      recorded_freeze: the run's ``pip-freeze.txt`` (None: it recorded none; only Python is
        compared).
      recorded_python: the run's Python version (Sacred's ``host.python_version``; None: unknown).
      current_freeze: ``pip freeze --all`` now (`pip_freeze`).
      current_python: the Python version now (``platform.python_version()``).

    Returns:
      Phrases such as ``Python 3.11.4 -> 3.11.9``, ``TensorFlow 2.15.1 -> 2.16.1`` and
      ``2 packages changed: numpy 1.26.4 -> 1.26.3, rich added (13.7.1)``.
    """
    differences = []
    if recorded_python != current_python:
        differences.append(f"Python {_changed(recorded_python, current_python)}")
    if recorded_freeze is None:  # nothing to compare the packages with: the caller says so
        return differences
    recorded, current = parse_freeze(recorded_freeze), parse_freeze(current_freeze)
    tf_before, tf_now = tensorflow_version(recorded), tensorflow_version(current)
    if tf_before != tf_now:
        differences.append(f"TensorFlow {_changed(_shown(tf_before), _shown(tf_now))}")
    for name in TENSORFLOW_DISTRIBUTIONS:  # named on the TensorFlow line
        recorded.pop(name, None)
        current.pop(name, None)
    changes = package_changes(recorded, current)
    if changes:
        shown = ", ".join(changes[:MAX_PACKAGES_NAMED])
        more = len(changes) - MAX_PACKAGES_NAMED
        plural = "s" if len(changes) > 1 else ""
        differences.append(
            f"{len(changes)} package{plural} changed: {shown}"
            + (f" and {more} more" if more > 0 else "")
        )
    return differences
