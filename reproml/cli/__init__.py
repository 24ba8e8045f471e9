"""The `reproml` console script: commands only.

`main` (options, one-line errors), `table` (aligned terminal tables and CSV) and one module per
command under `commands/`; reading and writing stored runs is `reproml.runs`.
"""
