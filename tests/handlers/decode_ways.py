"""Decode serialized examples four ways (eager/tf.data x one/batch) from the handler's specs.

For features whose batch decodes to a `tf.RaggedTensor`, each row is returned as a dense
NumPy array, so all four ways can be compared with the same expected values.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from reproml.records.handler import FeatureHandler
from reproml.records.spec import decode_example, parse_spec


def serialize_rows(
    handler: FeatureHandler, values: list, key: str, as_rows: bool = False
) -> list[bytes]:
    """The serialized `tf.train.Example` of each value (or each whole row, with `as_rows`)."""
    out = []
    for value in values:
        features = handler.handle(value if as_rows else {key: value}, key)
        out.append(
            tf.train.Example(features=tf.train.Features(feature=features)).SerializeToString()
        )
    return out


def _rows(value: tf.Tensor | tf.RaggedTensor) -> list:
    if isinstance(value, tf.RaggedTensor):  # row by row, keeping the dtype of empty rows
        return [value[i].numpy() for i in range(int(value.nrows()))]
    return list(value.numpy())


def decode_four_ways(handler: FeatureHandler, serialized: list[bytes], key: str) -> dict:
    """Returns ``{way: {feature: [per-example value]}}`` for the four ways of decoding.

    The ways: "eager" (parse_single_example + decode, eagerly), "eager_batch" (parse_example
    of all), "map" (one example per `tf.data.Dataset.map` call) and "map_batch" (batch, then
    map).
    """
    specs = handler.feature_specs(key)
    features = parse_spec(specs)

    def one(s: tf.Tensor) -> dict:
        return decode_example(specs, tf.io.parse_single_example(s, features))

    def batch(s: tf.Tensor) -> dict:
        return decode_example(specs, tf.io.parse_example(s, features))

    out: dict[str, dict[str, list]] = {}
    singles = [one(tf.constant(s)) for s in serialized]
    out["eager"] = {k: [np.asarray(d[k]) for d in singles] for k in specs}
    batched = batch(tf.constant(serialized))
    out["eager_batch"] = {k: _rows(batched[k]) for k in specs}
    dataset = tf.data.Dataset.from_tensor_slices(tf.constant(serialized))
    mapped = list(dataset.map(one))
    out["map"] = {k: [np.asarray(d[k]) for d in mapped] for k in specs}
    (mapped_batch,) = list(dataset.batch(len(serialized)).map(batch))
    out["map_batch"] = {k: _rows(mapped_batch[k]) for k in specs}
    return out


def assert_all_ways_equal(
    handler: FeatureHandler,
    values: list,
    key: str,
    expected: dict[str, list],
    as_rows: bool = False,
) -> None:
    """Every way of decoding gives exactly `expected` (``{feature: [per-example value]}``).

    `values` are the values of `key`, or whole rows with `as_rows`.
    """
    decoded = decode_four_ways(handler, serialize_rows(handler, values, key, as_rows), key)
    specs = handler.feature_specs(key)
    for way, by_key in decoded.items():
        for name, want in expected.items():
            got = by_key[name]
            assert len(got) == len(want), (way, name)
            for i, (g, w) in enumerate(zip(got, want, strict=True)):
                if specs[name].dtype == "string" and np.ndim(w) == 0:
                    assert g == w, (way, name, i, g, w)
                    continue
                g = np.asarray(g)
                if specs[name].dtype != "string":
                    assert g.dtype == np.dtype(specs[name].dtype), (way, name, g.dtype)
                np.testing.assert_array_equal(g, np.asarray(w), err_msg=f"{way} {name} {i}")
