"""Rank a sweep's trials and draw its parallel-coordinates plot (parameters vs the objective)."""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from reproml.errors import CliError
from reproml.sweep.space import parse_space
from reproml.sweep.study import SweepSpec

if TYPE_CHECKING:  # matplotlib is imported when a plot is drawn, not by the CLI's start-up
    from matplotlib.colors import Colormap, ListedColormap
    from matplotlib.figure import Figure


def ranked_rows(spec: SweepSpec, study: Any) -> tuple[list[str], list[list[Any]]]:
    """Return (headers, rows): finished trials best first, then pruned, failed and running ones.

    Columns: rank, trial, state, the metric, every searched param, the run id, the pruned step.
    """
    from optuna.trial import TrialState

    names = [p.name for p in parse_space(spec.words).params]
    trials = study.get_trials(deepcopy=False)
    sign = -1 if spec.direction == "maximize" else 1
    order = {TrialState.COMPLETE: 0, TrialState.PRUNED: 1, TrialState.RUNNING: 2}

    def key(t: Any) -> tuple:
        value = t.value if t.value is not None else _last_report(t)
        return (order.get(t.state, 3), sign * value if value is not None else 0.0, t.number)

    rows = []
    for rank, trial in enumerate(sorted(trials, key=key), start=1):
        value = trial.value if trial.value is not None else _last_report(trial)
        rows.append(
            [
                rank if trial.state == TrialState.COMPLETE else None,
                trial.number,
                trial.state.name,
                value,
                *(trial.params.get(n) for n in names),
                trial.user_attrs.get("run_id"),
                trial.user_attrs.get("pruned_at_step"),
            ]
        )
    headers = ["rank", "trial", "state", spec.metric, *names, "run", "pruned_at"]
    return headers, rows


def _last_report(trial: Any) -> float | None:
    """The last intermediate value of a pruned or running trial."""
    if not trial.intermediate_values:
        return None
    return trial.intermediate_values[max(trial.intermediate_values)]


def parallel_coordinates_figure(spec: SweepSpec, study: Any) -> Figure:
    """Return the parallel-coordinates figure of the complete trials (Optuna's matplotlib plot).

    Optuna colours the lines with matplotlib's "Blues", whose low end is white: the worst
    complete trial was drawn white on white, so a 2-trial sweep looked like one line. The lines
    are recoloured with the darker 60 % of the same map (best trial still darkest; the worst
    now a mid blue, luminance 0.74 where it was 0.98) and drawn thicker.

    Raises:
      CliError: the sweep has no complete trial yet.
    """
    from optuna.trial import TrialState

    if not study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        raise CliError(f"sweep {spec.sweep_id} has no complete trial to plot yet")
    from matplotlib.collections import LineCollection
    from optuna.visualization.matplotlib import plot_parallel_coordinate

    from reproml.models.plots import plt  # heavy: matplotlib, Agg backend  # noqa: F401

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ExperimentalWarning: the plot API may change
        ax = plot_parallel_coordinate(study, target_name=spec.metric)
    for lines in ax.collections:
        if isinstance(lines, LineCollection) and lines.get_array() is not None:
            lines.set_cmap(_without_white_end(lines.get_cmap()))
            lines.set_linewidth(2.0)
            if lines.colorbar is not None:
                lines.colorbar.update_normal(lines)
    figure = ax.figure
    figure.set_size_inches(10, 5)
    ax.set_title(f"sweep {spec.sweep_id}: {spec.metric} ({spec.direction})")
    return figure


def _without_white_end(cmap: Colormap) -> ListedColormap:
    """`cmap` without the 40 % at its lighter end (either end: "Blues" or "Blues_r")."""
    from matplotlib.colors import ListedColormap

    light_at_start = _luminance(cmap(0.0)) > _luminance(cmap(1.0))
    stops = np.linspace(0.4, 1.0, cmap.N) if light_at_start else np.linspace(0.0, 0.6, cmap.N)
    return ListedColormap(cmap(stops), name=f"{cmap.name}_visible")


def _luminance(rgba: Sequence[float]) -> float:
    """Relative luminance of an RGBA colour (0 black, 1 white)."""
    red, green, blue = rgba[:3]
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue


def save_parallel_coordinates(spec: SweepSpec, study: Any, path: str | os.PathLike) -> Path:
    """Write `parallel_coordinates_figure` as a PNG at `path`; return the path.

    Raises:
      CliError: the sweep has no complete trial yet.
    """
    from reproml.models.plots import plt  # heavy: matplotlib, with the Agg backend

    figure = parallel_coordinates_figure(spec, study)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, format="png", dpi=100, bbox_inches="tight")
    plt.close(figure)
    return path
