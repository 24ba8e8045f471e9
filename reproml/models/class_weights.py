"""The classifier's per-class loss weights: a policy in config, weights from the train split.

    class_weights = None                      # every example counts the same
    class_weights = "balanced"                # weight_c = n / (num_classes * count_c)
    class_weights = {"fig": 10.0, "banana": 0.5, ...}   # every class named, by its name

    check_class_weights_policy(policy)             -> the policy, or one ConfigError line
    train_label_counts(manifest)                   -> {class name: examples in the train split}
    class_weights_from_policy(policy, manifest)    -> [weight per class index] or None

"balanced" is scikit-learn's ``compute_class_weight("balanced")``: a 20:1 split gets weights
about 0.525 and 10.5, so both classes weigh the same in the loss. The classifier multiplies
each training example's cross-entropy by its class's weight (`classifier_loss`); the eval loss
and metrics stay unweighted.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from typing import Any

from reproml.errors import ConfigError
from reproml.lazy import lazy_import
from reproml.models.data_contract import class_labels
from reproml.records.manifest import Manifest

np = lazy_import("numpy")
reader = lazy_import("reproml.records.reader")  # dataset_from_records: TensorFlow

ENTRY = "class_weights"
_EXPECTED = 'None, "balanced", or {class name: weight > 0} naming every class'


def _positive(value: Any) -> bool:
    return (
        isinstance(value, numbers.Real)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and value > 0
    )


def check_class_weights_policy(policy: Any, entry: str = ENTRY) -> Any:
    """Return `policy` if it is None, "balanced" or a dict of positive weights (names unchecked).

    Raises:
      ConfigError: anything else, naming `entry` (or ``entry.<class>`` for a bad weight).
    """
    if policy is None or policy == "balanced":
        return policy
    if not isinstance(policy, Mapping) or not policy:
        raise ConfigError(entry, _EXPECTED, policy)
    for name, weight in policy.items():
        if not _positive(weight):
            raise ConfigError(f"{entry}.{name}", "a finite weight > 0", weight)
    return policy


def train_label_counts(
    manifest: Manifest, split: str = "train", label_key: str = "label"
) -> dict[str, int]:
    """Return ``{class name: examples}`` of `split`, in class index order.

    The manifest's per-class counts (``splits[split].label_histogram[label_key]``, written by
    `write_records`) when it has them; else the labels are read from the records and counted.
    """
    names = class_labels(manifest, label_key)
    histogram = (
        manifest.splits[split].label_histogram.get(label_key) if split in manifest.splits else None
    )
    if histogram:
        return {name: int(histogram.get(name, 0)) for name in names}
    counts = np.zeros(len(names), np.int64)
    dataset = reader.dataset_from_records(split, manifest, keys=[label_key], batch_size=1024)
    for batch in dataset.as_numpy_iterator():
        counts += np.bincount(batch[label_key].astype(np.int64), minlength=len(names))
    return {name: int(count) for name, count in zip(names, counts, strict=True)}


def class_weights_from_policy(
    policy: Any, manifest: Manifest, split: str = "train", label_key: str = "label"
) -> list[float] | None:
    """Return the loss weight of each class index for `policy` (None: unweighted).

    Args:
      policy: None, "balanced" or ``{class name: weight}`` (every class of the manifest).
      manifest: the records; class names and (for "balanced") the counts of `split`.
      split: the split the counts come from.
      label_key: the label feature.

    Raises:
      ConfigError: a bad policy, an unknown or missing class name, or "balanced" with a class
        that has no example in `split` (its weight would be infinite).
    """
    policy = check_class_weights_policy(policy)
    if policy is None:
        return None
    names = list(class_labels(manifest, label_key))
    if policy == "balanced":
        counts = train_label_counts(manifest, split, label_key)
        empty = [name for name, count in counts.items() if count == 0]
        if empty:
            raise ConfigError(
                ENTRY,
                f'"balanced" needs every class in the {split!r} split; {empty[0]!r} has no '
                "example there (name the weights instead)",
                policy,
            )
        total = sum(counts.values())
        return [total / (len(names) * counts[name]) for name in names]
    unknown = [name for name in policy if name not in names]
    if unknown:
        raise ConfigError(f"{ENTRY}.{unknown[0]}", f"a class name of the records {names}", None)
    missing = [name for name in names if name not in policy]
    if missing:
        raise ConfigError(ENTRY, f"a weight for every class; missing {missing}", dict(policy))
    return [float(policy[name]) for name in names]
