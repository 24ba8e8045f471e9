"""Rank a sweep's trials and draw its parallel-coordinates plot (parameters vs the objective)."""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

from reproml.runs.record import CliError
from reproml.sweep.study import SweepSpec


def ranked_rows(spec: SweepSpec, study: Any) -> tuple[list[str], list[list[Any]]]:
    """Return (headers, rows): finished trials best first, then pruned, failed and running ones.

    Columns: rank, trial, state, the metric, every searched param, the run id, the pruned step.
    """
    from optuna.trial import TrialState

    from reproml.sweep.space import parse_space

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


def save_parallel_coordinates(spec: SweepSpec, study: Any, path: str | os.PathLike) -> Path:
    """Write the parallel-coordinates PNG of the complete trials (Optuna's matplotlib plot).

    Raises:
      CliError: the sweep has no complete trial yet.
    """
    from optuna.trial import TrialState

    from reproml.models.plots import plt  # the Agg backend, chosen once for reproml

    if not study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        raise CliError(f"sweep {spec.sweep_id} has no complete trial to plot yet")
    from optuna.visualization.matplotlib import plot_parallel_coordinate

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ExperimentalWarning: the plot API may change
        ax = plot_parallel_coordinate(study, target_name=spec.metric)
    figure = ax.figure
    figure.set_size_inches(10, 5)
    ax.set_title(f"sweep {spec.sweep_id}: {spec.metric} ({spec.direction})")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, format="png", dpi=100, bbox_inches="tight")
    plt.close(figure)
    return path
