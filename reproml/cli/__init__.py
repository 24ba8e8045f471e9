"""The `reproml` console script: list, inspect, compare, verify, push and reproduce runs.

One module per idea: `run_record` (a run, whichever store it came from), `file_store` and
`mongo_store` (where runs live), `stores` (choosing one from the command line), `table`
(aligned terminal tables and CSV), and one module per command under `commands/`.
"""
