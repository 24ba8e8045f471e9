"""reproml: raw rows -> TFRecords -> Estimators, tracked and re-runnable with Sacred."""

__version__ = "0.1.0"
