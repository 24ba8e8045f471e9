"""Writing the drift report's figures: one PNG per figure, the figure closed even on failure."""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402  (after choosing the backend)


def save_png(fig: plt.Figure, path: str | os.PathLike) -> Path:
    """Write `fig` to `path` as a PNG (100 dpi), close it, and return `path` as a Path."""
    path = Path(path)
    try:
        fig.savefig(path, format="png", dpi=100)
    finally:
        plt.close(fig)
    return path
