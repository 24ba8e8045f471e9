"""A shard's record index: the byte length of every serialized example, stored in the manifest.

A TFRecord shard (uncompressed) is, per record: an 8-byte little-endian length, a 4-byte CRC
of it, the record, a 4-byte CRC of the record. Given every record's length, record ``i``
starts at ``offsets[i] + 12`` with ``offsets = cumsum(lengths + 16)`` (exclusive), so a reader
can cut a whole shard into its records with one vectorized string op (`reproml.records.reader`).

The lengths are stored per shard in ``manifest.json`` as ``record_lengths``: base64 of the
zlib-compressed little-endian uint32 array. Fixed-size records (e.g. images of one shape with
small labels) compress to a few dozen characters per shard; variable ones to about 2-3 bytes
per record. No TensorFlow here: `reproml verify` checks the index without importing it.
"""

from __future__ import annotations

import base64
import binascii
import struct
import zlib
from collections.abc import Sequence

import numpy as np

# zlib window bits of the compressions the manifest knows (GZIP: a gzip header and trailer).
_WBITS = {"GZIP": 16 + zlib.MAX_WBITS, "ZLIB": zlib.MAX_WBITS}
# Bytes around each record in the framing: length (8), CRC of the length (4), CRC of the data (4).
FRAME_OVERHEAD = 16
# Bytes before each record's data: its length and the CRC of the length.
HEADER_BYTES = 12
_DTYPE = np.dtype("<u4")


class RecordIndexError(ValueError):
    """The stored index cannot be decoded, or does not describe the shard's framing."""


def encode_lengths(lengths: Sequence[int] | np.ndarray) -> str:
    """Return the ``record_lengths`` text of a shard whose records have these byte lengths."""
    array = np.asarray(lengths, dtype=np.int64)
    if array.size and (array.min() < 0 or array.max() > np.iinfo(_DTYPE).max):
        raise ValueError("record lengths must fit in uint32")
    packed = zlib.compress(array.astype(_DTYPE).tobytes(), 9)
    return base64.b64encode(packed).decode("ascii")


def decode_lengths(text: str, records: int) -> np.ndarray:
    """Return the int64 record lengths stored as `text`; there must be `records` of them.

    Raises:
      RecordIndexError: `text` is not a valid index, or holds another number of records.
    """
    try:
        raw = zlib.decompress(base64.b64decode(text.encode("ascii"), validate=True))
    except (binascii.Error, zlib.error, UnicodeEncodeError, AttributeError) as err:
        raise RecordIndexError(f"record_lengths is not base64 of zlib data ({err})") from err
    if len(raw) % _DTYPE.itemsize:
        raise RecordIndexError(f"record_lengths holds {len(raw)} bytes, not a whole uint32 array")
    lengths = np.frombuffer(raw, _DTYPE).astype(np.int64)
    if lengths.size != records:
        raise RecordIndexError(
            f"record_lengths lists {lengths.size} records but the shard entry lists {records}"
        )
    return lengths


def framed_lengths(data: bytes | memoryview) -> np.ndarray:
    """Return the record lengths read from an uncompressed TFRecord stream's length headers.

    Raises:
      RecordIndexError: the stream ends inside a record.
    """
    lengths = []
    position, size = 0, len(data)
    while position < size:
        if position + HEADER_BYTES > size:
            raise RecordIndexError(f"the framing ends inside a record header at byte {position}")
        (length,) = struct.unpack_from("<Q", data, position)
        position += length + FRAME_OVERHEAD
        if position > size:
            raise RecordIndexError(
                f"the record at byte {position - length - FRAME_OVERHEAD} runs past the end"
            )
        lengths.append(length)
    return np.asarray(lengths, dtype=np.int64)


def index_problem(
    stored: bytes, compression: str | None, record_lengths: str, records: int
) -> str | None:
    """Return how a shard's stored bytes disagree with its ``record_lengths``, or None.

    Args:
      stored: the shard file's bytes as stored (compressed for GZIP/ZLIB).
      compression: the manifest's compression (None, "GZIP" or "ZLIB").
      record_lengths: the shard's index as stored in the manifest.
      records: the shard's record count in the manifest.
    """
    try:
        listed = decode_lengths(record_lengths, records)
        data = stored if compression is None else zlib.decompress(stored, _WBITS[compression])
        framed = framed_lengths(data)
    except (RecordIndexError, zlib.error) as err:
        return str(err)
    if not np.array_equal(framed, listed):
        at = next(
            (i for i, (a, b) in enumerate(zip(framed, listed, strict=False)) if a != b),
            min(len(framed), len(listed)),
        )
        return (
            f"record_lengths does not match the framing: it lists {len(listed)} records, the "
            f"file holds {len(framed)}; they first differ at record {at}"
        )
    return None
