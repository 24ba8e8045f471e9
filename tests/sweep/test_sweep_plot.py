"""The sweep's parallel-coordinates plot: every complete trial visible, the best one darkest."""

import optuna
import pytest
from matplotlib.collections import LineCollection

from reproml.errors import CliError
from reproml.sweep.report import _luminance, parallel_coordinates_figure, save_parallel_coordinates
from reproml.sweep.study import SweepSpec

VALUES = [0.82, 0.91, 0.55, 0.70]


def _study(direction):
    study = optuna.create_study(direction=direction)
    distributions = {
        "lr": optuna.distributions.FloatDistribution(1e-4, 1e-2, log=True),
        "dropout": optuna.distributions.CategoricalDistribution([0.2, 0.4]),
    }
    for i, value in enumerate(VALUES):
        params = {"lr": 1e-4 * 3**i, "dropout": (0.2, 0.4)[i % 2]}
        study.add_trial(
            optuna.trial.create_trial(params=params, distributions=distributions, value=value)
        )
    return study


def _line_colors(figure):
    (lines,) = [c for c in figure.axes[0].collections if isinstance(c, LineCollection)]
    values = lines.get_array()
    return values, lines.to_rgba(values)


@pytest.mark.parametrize("direction", ["maximize", "minimize"])
def test_every_trial_is_visible_and_the_best_is_darkest(direction):
    spec = SweepSpec("plot", "experiments.mnist", [], trials=4, direction=direction)
    values, colors = _line_colors(parallel_coordinates_figure(spec, _study(direction)))
    assert sorted(values) == sorted(VALUES)
    luminance = [_luminance(c) for c in colors]
    assert max(luminance) < 0.75, luminance  # Optuna's own colours: the worst trial ~0.97 (white)
    best = max(VALUES) if direction == "maximize" else min(VALUES)
    assert luminance[list(values).index(best)] == min(luminance)


def test_the_png_is_written_and_a_sweep_without_complete_trials_is_refused(tmp_path):
    spec = SweepSpec("plot", "experiments.mnist", [], trials=4)
    png = save_parallel_coordinates(spec, _study("maximize"), tmp_path / "pc.png")
    assert png.read_bytes()[:4] == b"\x89PNG"
    with pytest.raises(CliError, match="sweep plot has no complete trial to plot yet"):
        parallel_coordinates_figure(spec, optuna.create_study())
