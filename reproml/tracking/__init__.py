"""What a live Sacred run records.

`experiment` (track(Experiment), run_commandline, the steps of a command), `observers` (file
store + fail-fast MongoDB, guarded; incomplete_records), `file_store` (atomic
FileStorageObserver), `record` (code state, pip freeze, dataset, export), `hooks` (Estimator
hooks: metrics to Sacred, progress bar, stop on a signal), `output` (captured stdout filter),
`signals` (SIGINT / SIGTERM -> INTERRUPTED, resumable), `classifier_experiment` and
`gan_experiment` (any Experiment gets a classifier's / GAN's config, validators and commands).
"""
