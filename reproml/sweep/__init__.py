"""Hyperparameter sweeps on Optuna where every trial is an ordinary tracked Sacred run.

* `space`: ``lr=loguniform(1e-4,1e-2) dropout=0.2,0.4 steps=30 quick`` -> searched params,
  fixed config entries and named configs.
* `study`: the sweep as an Optuna study (a journal file by default, any storage URL to share
  it between machines); the sweep's settings are kept in the study itself, so ``ID`` is enough
  to resume or show it.
* `runner`: runs the trials (``python -m EXPERIMENT with ...`` subprocesses, N at a time) and
  resumes a killed sweep without repeating finished trials.
* `trial`: inside a trial's run: tags it with the sweep id and reports each evaluation to the
  study, which may prune it.
* `report`: ranks the trials and draws the parallel-coordinates plot.
"""
