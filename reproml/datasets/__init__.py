"""Datasets: where raw data comes from, bound to the config that wrote its records.

`mnist` (file, cache, verified download, digits fallback); `ingredient` and `mnist_ingredient`
(the Sacred dataset ingredient: config, validators, `serialize`, `ensure_records`).
"""
