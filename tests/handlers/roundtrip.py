"""Encode -> tf.train.Example -> parse -> decode helpers shared by the handler tests."""

from __future__ import annotations

from typing import Any

import numpy as np
import tensorflow as tf
from hypothesis import HealthCheck, settings

from reproml.records.handler import FeatureHandler

# Property tests: modest example counts, no deadline (TF's first calls are slow).
PROPERTY = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def transformed(handler: FeatureHandler, value: Any, key: str) -> Any:
    """The value the last handler of the chain encodes (every transform applied in turn)."""
    while handler is not None:
        value = handler.transform(value, key)
        handler = handler.delegate_to
    return value


def serialize(handler: FeatureHandler, value: Any, key: str) -> bytes:
    features = handler.handle({key: value}, key)
    assert list(features) == [key]
    example = tf.train.Example(features=tf.train.Features(feature=features))
    return example.SerializeToString()


def decode_single(handler: FeatureHandler, serialized: bytes, key: str) -> np.ndarray:
    spec = handler.spec()
    parsed = tf.io.parse_single_example(serialized, {key: spec.parse_feature()})
    return spec.decode(parsed[key]).numpy()


def decode_batch(handler: FeatureHandler, serialized: list[bytes], key: str) -> np.ndarray:
    spec = handler.spec()
    parsed = tf.io.parse_example(tf.constant(serialized), {key: spec.parse_feature()})
    return spec.decode(parsed[key]).numpy()


def decode_dataset_map(handler: FeatureHandler, serialized: list[bytes], key: str) -> list:
    """Parses and decodes one example at a time inside `tf.data.Dataset.map`."""
    spec = handler.spec()

    def parse(s: tf.Tensor) -> tf.Tensor:
        return spec.decode(tf.io.parse_single_example(s, {key: spec.parse_feature()})[key])

    dataset = tf.data.Dataset.from_tensor_slices(tf.constant(serialized)).map(parse)
    return [t.numpy() for t in dataset]


def decode_dataset_batched(
    handler: FeatureHandler, serialized: list[bytes], key: str
) -> np.ndarray:
    """Batches first, then parses and decodes the batch inside `tf.data.Dataset.map`."""
    spec = handler.spec()

    def parse(s: tf.Tensor) -> tf.Tensor:
        return spec.decode(tf.io.parse_example(s, {key: spec.parse_feature()})[key])

    dataset = tf.data.Dataset.from_tensor_slices(tf.constant(serialized))
    (batch,) = list(dataset.batch(len(serialized)).map(parse))
    return batch.numpy()


def assert_decoded_equal(handler: FeatureHandler, decoded: Any, expected: Any) -> None:
    """Decoded value has the spec's dtype and shape and equals the transformed value exactly."""
    spec = handler.spec()
    if spec.dtype == "string":
        assert isinstance(decoded, bytes), type(decoded)
        assert decoded == expected
        return
    decoded = np.asarray(decoded)
    assert decoded.dtype == np.dtype(spec.dtype), (decoded.dtype, spec.dtype)
    assert decoded.shape == spec.shape, (decoded.shape, spec.shape)
    np.testing.assert_array_equal(decoded, np.asarray(expected, dtype=spec.dtype))


def assert_roundtrip(handler: FeatureHandler, values: list, key: str = "x") -> None:
    """Every value survives encode -> parse -> decode eagerly, batched and in tf.data."""
    expected = [transformed(handler, v, key) for v in values]
    serialized = [serialize(handler, v, key) for v in values]
    for s, e in zip(serialized, expected, strict=True):
        assert_decoded_equal(handler, decode_single(handler, s, key), e)
    for decoded_batch in (
        decode_batch(handler, serialized, key),
        decode_dataset_batched(handler, serialized, key),
    ):
        assert len(decoded_batch) == len(values)
        for d, e in zip(decoded_batch, expected, strict=True):
            assert_decoded_equal(handler, d, e)
    for d, e in zip(decode_dataset_map(handler, serialized, key), expected, strict=True):
        assert_decoded_equal(handler, d, e)
