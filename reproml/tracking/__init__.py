"""What a live Sacred run records.

`experiment` (track(Experiment), run_commandline, the steps of a command), `observers` (file
store + fail-fast MongoDB, guarded; incomplete_records), `atomic_observer` (atomic
FileStorageObserver), `recording` (code state, pip freeze, dataset, export), `output` (captured
stdout filter). The training loop, its hooks and signals: `reproml.train`.
"""
