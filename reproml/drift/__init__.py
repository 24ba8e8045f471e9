"""Embedding drift: tell when production images stop looking like the training data.

A file per idea::

    embeddings.py  classifier embeddings of a record split, a batch of images or an .npz
                   (the Estimator's checkpoint, or the exported SavedModel's signature)
    statistics.py  the two-sample test per window: MMD with a permutation p-value (scipy),
                   Bonferroni over the windows (the report's stated false-alarm rate)
    distance.py    Euclidean distance of mean embeddings, overall and per predicted class
    monitor.py     windows of the production stream and the drift report of every window
    report.py      the PNGs: PCA projection, drift curve, farthest production images
    scenario.py    a reproducible production stream with degradation in known windows
    run.py         what a drift run records, and the training run it monitors
    ingredient.py  the Sacred ingredient ``drift``: the ``drift.*`` entries, their checks, and
                   the work of an experiment's embed / drift / scenario commands

``python -m experiments.mnist drift with model_dir=... drift.production=...`` records a report
as a Sacred run linked to the training run it monitors (docs/drift.md).
"""
