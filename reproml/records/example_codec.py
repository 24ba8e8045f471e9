"""Builds serialized `tf.train.Example`s from per-key columns of serialized `tf.train.Feature`s.

Protobuf wire format of what is built (field number, wire type)::

    Example  { features (1, LEN): Features { feature (1, LEN, repeated map entry):
               MapEntry { key (1, LEN): str, value (2, LEN): Feature } } }

Keys are written in sorted order, so the bytes depend only on the values. A column is either a
list of serialized Features (any length) or a 2-D uint8 array with one fixed-length serialized
Feature per row. When every column is fixed-length, the examples come back as one 2-D uint8
array built with NumPy — no per-example Python work — which `tfrecord_io.frame_records` frames
in bulk. Parsing the result with `tf.train.Example.FromString` gives the same message as
building it with the protobuf classes (tested).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

Column = np.ndarray | Sequence[bytes]


def varint(value: int) -> bytes:
    """Returns the protobuf varint encoding of a non-negative int (negative: two's complement)."""
    value &= 0xFFFFFFFFFFFFFFFF
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def length_delimited(field_tag: int, payload_len: int) -> bytes:
    """Returns the tag byte and varint length that precede a length-delimited payload."""
    return bytes([field_tag]) + varint(payload_len)


def tensor_bytes_column(arrays: np.ndarray) -> np.ndarray:
    """Returns ``Feature{bytes_list{value: [array.tobytes()]}}`` for each row of `arrays`, as 2-D uint8.

    Args:
      arrays: an array of shape [n, ...]; each example's bytes are its C-order little-endian data.
    """
    arrays = np.ascontiguousarray(arrays)
    if arrays.dtype.byteorder == ">":
        arrays = arrays.astype(arrays.dtype.newbyteorder("<"))
    raw = arrays.reshape(len(arrays), -1).view(np.uint8).reshape(len(arrays), -1)
    size = raw.shape[1]
    inner = length_delimited(0x0A, size)  # BytesList.value
    header = length_delimited(0x0A, len(inner) + size) + inner  # Feature.bytes_list
    return _prepend(header, raw)


def int64_column(values: np.ndarray) -> Column:
    """Returns ``Feature{int64_list{value: row}}`` for each row of an [n] or [n, k] int array."""
    values = np.asarray(values, dtype=np.int64).reshape(len(values), -1)
    if values.shape[1] == 0:  # protobuf omits an empty packed list: Feature{int64_list{}}
        return [b"\x1a\x00"] * len(values)
    if values.size and values.min() >= 0 and values.max() < 128:  # one byte per varint
        packed = length_delimited(0x0A, values.shape[1])
        header = length_delimited(0x1A, len(packed) + values.shape[1]) + packed
        return _prepend(header, values.astype(np.uint8))
    out = []
    for row in values.tolist():
        payload = b"".join(varint(v) for v in row)
        packed = length_delimited(0x0A, len(payload)) + payload
        out.append(length_delimited(0x1A, len(packed)) + packed)
    return out


def int64_scalars(column: Column) -> np.ndarray | None:
    """Returns the values of a column of one-value Int64List features, or None.

    Only `int64_column`'s vectorized form (a 2-D array of one-byte varints) is read; for any
    other column the caller parses the features row by row.
    """
    header = np.frombuffer(b"\x1a\x03\x0a\x01", np.uint8)
    if (
        isinstance(column, np.ndarray)
        and column.shape[1:] == (5,)
        and (column[:, :4] == header).all()
    ):
        return column[:, 4].astype(np.int64)
    return None


def float_column(values: np.ndarray) -> Column:
    """Returns ``Feature{float_list{value: row}}`` for each row of an [n] or [n, k] float array."""
    values = np.asarray(values, dtype="<f4").reshape(len(values), -1)
    if values.shape[1] == 0:  # protobuf omits an empty packed list: Feature{float_list{}}
        return [b"\x12\x00"] * len(values)
    size = values.shape[1] * 4
    packed = length_delimited(0x0A, size)
    header = length_delimited(0x12, len(packed) + size) + packed
    return _prepend(header, values.view(np.uint8).reshape(len(values), size))


def stack_uniform(values: Sequence[object]) -> np.ndarray | None:
    """Returns ``np.stack(values)`` if every value is an ndarray of one shape and dtype, else None."""
    if not values or type(values[0]) is not np.ndarray:
        return None
    shape, dtype = values[0].shape, values[0].dtype
    for value in values:
        if type(value) is not np.ndarray or value.shape != shape or value.dtype != dtype:
            return None
    if not shape:
        return np.stack(values)
    # Fast path: np.stack is a concatenate of every value with a new first axis, which it adds
    # in Python one value at a time; concatenating along the existing first axis gives the same
    # array (dtype included) in one C call (5,000 28x28 uint8 images: 1.6 ms -> 0.7 ms, measured).
    return np.concatenate(values, axis=0).reshape(len(values), *shape)


def encode_examples(columns: Mapping[str, Column]) -> np.ndarray | list[bytes]:
    """Returns one serialized Example per row from ``{key: column}`` (all columns of equal length).

    Returns:
      A 2-D uint8 array (one example per row) when every column is a fixed-length array,
      otherwise a list of bytes.
    """
    keys = sorted(columns)
    lengths = {len(columns[k]) for k in keys}
    if len(lengths) != 1:
        raise ValueError(f"columns have different lengths: { {k: len(columns[k]) for k in keys} }")
    if all(isinstance(columns[k], np.ndarray) for k in keys):
        # Fixed length: every example is the same bytes layout, filled column by column into one
        # preallocated array (no intermediate copies).
        headers = []
        for key in keys:
            name = key.encode("utf-8")
            width = columns[key].shape[1]
            entry = length_delimited(0x0A, len(name)) + name + length_delimited(0x12, width)
            headers.append(length_delimited(0x0A, len(entry) + width) + entry)
        body = sum(len(h) + columns[k].shape[1] for h, k in zip(headers, keys, strict=True))
        prefix = length_delimited(0x0A, body)
        out = np.empty((lengths.pop(), len(prefix) + body), dtype=np.uint8)
        out[:, : len(prefix)] = np.frombuffer(prefix, np.uint8)
        at = len(prefix)
        for header, key in zip(headers, keys, strict=True):
            out[:, at : at + len(header)] = np.frombuffer(header, np.uint8)
            at += len(header)
            out[:, at : at + columns[key].shape[1]] = columns[key]
            at += columns[key].shape[1]
        return out
    rows = [_as_list(columns[k]) for k in keys]
    names = [k.encode("utf-8") for k in keys]
    out = []
    for features in zip(*rows, strict=True):
        body = b"".join(
            _map_entry(name, feature) for name, feature in zip(names, features, strict=True)
        )
        out.append(length_delimited(0x0A, len(body)) + body)
    return out


def _map_entry(name: bytes, feature: bytes) -> bytes:
    entry = (
        length_delimited(0x0A, len(name)) + name + length_delimited(0x12, len(feature)) + feature
    )
    return length_delimited(0x0A, len(entry)) + entry


def _as_list(column: Column) -> list[bytes]:
    return [row.tobytes() for row in column] if isinstance(column, np.ndarray) else list(column)


def _prepend(header: bytes, rows: np.ndarray) -> np.ndarray:
    out = np.empty((rows.shape[0], len(header) + rows.shape[1]), dtype=np.uint8)
    out[:, : len(header)] = np.frombuffer(header, dtype=np.uint8)
    out[:, len(header) :] = rows
    return out
