"""Sacred tracking: observers, what a run records, Estimator hooks, output filter, signals.

Modules: `observers` (file store + fail-fast MongoDB, guarded), `scrub` (credentials),
`run_record` (git diff, pip freeze, dataset manifest, export), `hooks` (metrics to Sacred),
`output` (captured stdout filter), `signals` (SIGINT/SIGTERM -> INTERRUPTED, resumable).
"""
