"""The wire-format Example encoder gives the same messages as the protobuf classes."""

import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from reproml.records import example_codec as ec


def _reference(image, label, floats):
    return tf.train.Example(
        features=tf.train.Features(
            feature={
                "image": tf.train.Feature(bytes_list=tf.train.BytesList(value=[image.tobytes()])),
                "label": tf.train.Feature(int64_list=tf.train.Int64List(value=np.ravel(label))),
                "vec": tf.train.Feature(float_list=tf.train.FloatList(value=np.ravel(floats))),
            }
        )
    )


@pytest.mark.parametrize(
    "labels, fixed",
    [
        (np.array([0, 1, 9, 127]), True),  # one-byte varints: fully vectorized
        (np.array([0, 128, 2**40, -1]), False),  # multi-byte and negative varints
    ],
)
def test_examples_equal_protobuf_messages(labels, fixed):
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, (4, 3, 5, 2), dtype=np.uint8)
    floats = rng.normal(size=(4, 3)).astype(np.float32)
    encoded = ec.encode_examples(
        {
            "image": ec.tensor_bytes_column(images),
            "label": ec.int64_column(labels),
            "vec": ec.float_column(floats),
        }
    )
    assert isinstance(encoded, np.ndarray) == fixed
    for i, record in enumerate(encoded):
        parsed = tf.train.Example.FromString(bytes(record))
        assert parsed == _reference(images[i], labels[i], floats[i])


def test_mixed_columns_accept_serialized_features():
    feature = tf.train.Feature(bytes_list=tf.train.BytesList(value=[b"a", b"bc"]))
    encoded = ec.encode_examples(
        {"s": [feature.SerializeToString()] * 2, "n": ec.int64_column(np.array([5, 6]))}
    )
    assert [tf.train.Example.FromString(r).features.feature["s"] for r in encoded] == [feature] * 2


def test_keys_are_written_in_sorted_order_so_bytes_do_not_depend_on_dict_order():
    a = {"b": ec.int64_column(np.array([1])), "a": ec.int64_column(np.array([2]))}
    b = dict(reversed(list(a.items())))
    assert ec.encode_examples(a).tobytes() == ec.encode_examples(b).tobytes()


def test_columns_of_different_lengths_are_refused():
    with pytest.raises(ValueError, match="different lengths"):
        ec.encode_examples({"a": ec.int64_column(np.arange(2)), "b": ec.int64_column(np.arange(3))})


@settings(max_examples=40, deadline=None)
@given(
    arrays=hnp.arrays(
        dtype=st.sampled_from([np.uint8, np.int16, np.float32, np.float64]),
        shape=hnp.array_shapes(min_dims=2, max_dims=4, min_side=1, max_side=6),
    ),
    ints=st.lists(st.integers(-(2**63), 2**63 - 1), min_size=1, max_size=4),
)
def test_random_values_parse_back_unchanged(arrays, ints):
    n = arrays.shape[0]
    labels = np.array([ints] * n, dtype=np.int64)
    encoded = ec.encode_examples(
        {"x": ec.tensor_bytes_column(arrays), "y": ec.int64_column(labels)}
    )
    spec = {
        "x": tf.io.FixedLenFeature([], tf.string),
        "y": tf.io.FixedLenFeature([len(ints)], tf.int64),
    }
    parsed = tf.io.parse_example(tf.constant([bytes(r) for r in encoded]), spec)
    decoded = tf.io.decode_raw(parsed["x"], tf.as_dtype(arrays.dtype)).numpy()
    np.testing.assert_array_equal(decoded.reshape(arrays.shape), arrays)
    np.testing.assert_array_equal(parsed["y"].numpy(), labels)


@pytest.mark.parametrize(
    "values, decodable", [([0, 5, 127], True), ([0, 128], False), ([[1, 2]], False)]
)
def test_int64_scalars_reads_back_the_vectorized_label_column(values, decodable):
    column = ec.int64_column(np.array(values))
    decoded = ec.int64_scalars(column)
    if decodable:
        np.testing.assert_array_equal(decoded, values)
    else:
        assert decoded is None
