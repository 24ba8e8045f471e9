"""A sweep as an Optuna study: where it is stored, how it searches, and its settings.

The default storage is one journal file, ``sweeps/<ID>.journal`` (Optuna's
`JournalFileBackend`: safe for several processes on one machine). ``--storage URL`` takes any
Optuna storage URL instead (``sqlite:///sweeps.db``, ``postgresql://...``, ``mysql://...``) so
workers on several machines share one sweep. The settings of the sweep (`SweepSpec`) are kept
in the study's user attributes, so ``ID`` (and the storage) is enough to resume or show it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import re
from pathlib import Path
from typing import Any

from reproml.errors import CliError
from reproml.runs.started import is_file_target
from reproml.sweep.space import parse_space

DEFAULT_DIR = "sweeps"
SAMPLERS = ("tpe", "random", "grid")
PRUNERS = ("median", "none")
DIRECTIONS = ("maximize", "minimize")
SPEC_ATTR = "reproml_sweep"
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


@dataclasses.dataclass
class SweepSpec:
    """The settings of one sweep (stored in its study).

    Attributes:
      sweep_id: the study's name; every trial's run is tagged ``sweep:<id>``.
      experiment: the module run for each trial (``python -m EXPERIMENT with ...``), or the
        absolute path of its ``.py`` file (``python FILE with ...``).
      words: the search-space words (`reproml.sweep.space`).
      trials: finished (complete or pruned) trials the sweep ends with.
      metric: the eval metric to optimize (``accuracy`` -> the run's reported ``accuracy``).
      direction: maximize or minimize.
      sampler: tpe, random or grid.
      pruner: median (stop trials below the median of the others at the same step) or none.
      seed: the sampler's seed.
      runs_dir: the file store the trials record to (absolute).
    """

    sweep_id: str
    experiment: str
    words: list[str]
    trials: int
    metric: str = "accuracy"
    direction: str = "maximize"
    sampler: str = "tpe"
    pruner: str = "median"
    seed: int = 0
    runs_dir: str = "runs"

    def check(self) -> None:
        """Refuse settings that cannot work, naming the option.

        Raises:
          CliError: an id with other characters than letters, digits, ``_.-``, trials < 1, or
            an unknown sampler, pruner or direction.
        """
        if not _ID.match(self.sweep_id):
            raise CliError(f"--id {self.sweep_id!r}: expected letters, digits, '_', '.', '-'")
        if self.trials < 1:
            raise CliError(f"--trials {self.trials}: expected an int >= 1")
        for option, value, allowed in (
            ("--sampler", self.sampler, SAMPLERS),
            ("--pruner", self.pruner, PRUNERS),
            ("--direction", self.direction, DIRECTIONS),
        ):
            if value not in allowed:
                raise CliError(f"{option} {value!r}: expected one of {', '.join(allowed)}")


def new_sweep_id(experiment: str) -> str:
    """Return a readable new id: the experiment's last name and the time (``mnist-20261121-1130``)."""
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    name = Path(experiment).stem if is_file_target(experiment) else experiment.rsplit(".", 1)[-1]
    return f"{name}-{stamp}"


def storage_location(sweep_id: str, storage: str | None, sweeps_dir: str | os.PathLike) -> str:
    """Return where the study lives: `storage` (a URL), else ``<sweeps_dir>/<id>.journal``."""
    if storage:
        return storage
    return str(Path(sweeps_dir).resolve() / f"{sweep_id}.journal")


def open_storage(location: str) -> Any:
    """Return the Optuna storage at `location` (a storage URL, else a journal file path)."""
    import optuna

    if "://" in location:
        return optuna.storages.get_storage(location)
    from optuna.storages.journal import JournalFileBackend

    Path(location).parent.mkdir(parents=True, exist_ok=True)
    return optuna.storages.JournalStorage(JournalFileBackend(location))


def _sampler(spec: SweepSpec) -> Any:
    import optuna

    if spec.sampler == "random":
        return optuna.samplers.RandomSampler(seed=spec.seed)
    if spec.sampler == "grid":
        return optuna.samplers.GridSampler(parse_space(spec.words).grid(), seed=spec.seed)
    return optuna.samplers.TPESampler(seed=spec.seed)


def _pruner(spec: SweepSpec) -> Any:
    import optuna

    if spec.pruner == "none":
        return optuna.pruners.NopPruner()
    return optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=0)


def quiet_optuna() -> None:
    """Keep Optuna to errors: reproml prints one line per trial itself (failures name their log)."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)


def create_or_resume(spec: SweepSpec, location: str) -> Any:
    """Return the study of `spec`: made new, or the stored one when the id exists.

    Raises:
      CliError: the stored sweep of that id was made with other settings (each differing
        setting is named).
    """
    import optuna

    quiet_optuna()
    storage = open_storage(location)
    direction = spec.direction
    try:
        study = optuna.load_study(study_name=spec.sweep_id, storage=storage)
    except KeyError:
        study = optuna.create_study(
            study_name=spec.sweep_id,
            storage=storage,
            direction=direction,
            sampler=_sampler(spec),
            pruner=_pruner(spec),
        )
        study.set_user_attr(SPEC_ATTR, dataclasses.asdict(spec))
        return study
    stored = SweepSpec(**study.user_attrs[SPEC_ATTR])
    mine = dataclasses.asdict(spec)
    differ = [
        f"{k} {v!r} (stored: {getattr(stored, k)!r})"
        for k, v in mine.items()
        if k != "trials" and v != getattr(stored, k)
    ]
    if differ:
        raise CliError(
            f"sweep {spec.sweep_id} exists in {location} with other settings: "
            f"{'; '.join(differ)}. Resume it with `reproml sweep resume {spec.sweep_id}`"
        )
    if spec.trials != stored.trials:
        study.set_user_attr(SPEC_ATTR, mine)  # more (or fewer) trials asked: the new total
    return load_sweep(spec.sweep_id, location)[1]


def load_sweep(sweep_id: str, location: str) -> tuple[SweepSpec, Any]:
    """Return the spec and the study (with its sampler and pruner) of a stored sweep.

    Raises:
      CliError: no sweep of that id in that storage.
    """
    import optuna

    quiet_optuna()
    if "://" not in location and not Path(location).is_file():
        raise CliError(f"no sweep {sweep_id!r}: {location} does not exist (pass --storage URL?)")
    storage = open_storage(location)
    try:
        study = optuna.load_study(study_name=sweep_id, storage=storage)
    except KeyError:
        names = [s.study_name for s in optuna.get_all_study_summaries(storage)]
        raise CliError(
            f"no sweep {sweep_id!r} in {location} (sweeps there: {', '.join(names) or 'none'})"
        ) from None
    if SPEC_ATTR not in study.user_attrs:
        raise CliError(f"study {sweep_id!r} in {location} was not made by reproml sweep")
    spec = SweepSpec(**study.user_attrs[SPEC_ATTR])
    study = optuna.load_study(
        study_name=sweep_id, storage=storage, sampler=_sampler(spec), pruner=_pruner(spec)
    )
    return spec, study
