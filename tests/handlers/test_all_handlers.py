"""What every handler shares: missing keys, object/pickled values, one Example, write -> read."""

import pickle

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from handlers import (
    BytesHandler,
    ClassLabelHandler,
    ImageArrayHandler,
    ImageFileHandler,
    NumericHandler,
    StringHandler,
)
from reproml.errors import HandlerError
from reproml.records.spec import decode_example, parse_spec
from tests.handlers.roundtrip import assert_decoded_equal, transformed

HANDLERS = {
    "image": lambda: ImageArrayHandler((28, 28, 1), scale=(0, 16, 0, 255)),
    "file": lambda: ImageFileHandler(delegate_to=ImageArrayHandler((8, 8, 3)), mode="RGB"),
    "label": lambda: ClassLabelHandler(names=[str(d) for d in range(10)]),
    "weight": lambda: NumericHandler(),
    "box": lambda: NumericHandler(shape=(4,), dtype="int32"),
    "raw": lambda: BytesHandler(),
    "caption": lambda: StringHandler(),
}


def make_rows(tmp_path, digits):
    """One row per digit: every handler's key with a real value."""
    rows = []
    for i, digit in enumerate(digits):
        path = tmp_path / f"digit{i}.png"
        Image.fromarray(np.rint(digit * 255 / 16).astype(np.uint8)).save(path)
        rows.append(
            {
                "image": digit,
                "file": path,
                "label": i % 10,
                "weight": 0.5 * i,
                "box": [i, 0, 8, 8],
                "raw": path.read_bytes(),
                "caption": f"digit {i} — ünïcode",
            }
        )
    return rows


@pytest.mark.parametrize("key", sorted(HANDLERS))
def test_missing_key_names_the_key_and_the_row_keys(key):
    with pytest.raises(HandlerError) as err:
        HANDLERS[key]().handle({"other": 1, "another": 2}, key)
    assert str(err.value) == (
        f"key {key!r}: expected the row to have this key, got a row with keys ['another', 'other']"
    )


OBJECTS = {
    "object array": np.array([object(), object()], dtype=object),
    "object": object(),
    "dict": {"a": 1},
    "pickled": pickle.dumps(np.zeros((28, 28), np.uint8)),
}


# BytesHandler stores any bytes as opaque bytes, pickles included (see test_raw.py).
REFUSED = [
    (key, what)
    for key in sorted(HANDLERS)
    for what in sorted(OBJECTS)
    if not (key == "raw" and what == "pickled")
]


@pytest.mark.parametrize("key,what", REFUSED)
def test_object_and_pickled_values_are_refused(key, what):
    with pytest.raises(HandlerError, match=f"key {key!r}: expected"):
        HANDLERS[key]().handle({key: OBJECTS[what]}, key)


def test_handlers_pickle_and_encode_the_same_after(tmp_path, digits):
    # write_records sends handlers to worker processes by pickling them.
    (row,) = make_rows(tmp_path, digits[:1])
    for key, make in HANDLERS.items():
        handler = make()
        clone = pickle.loads(pickle.dumps(handler))
        assert clone.handle(row, key) == handler.handle(row, key)
        assert clone.spec() == handler.spec()


def test_one_example_with_every_handler_parses_in_tf_data(tmp_path, digits):
    rows = make_rows(tmp_path, digits)
    handlers = {key: make() for key, make in HANDLERS.items()}
    specs = {key: h.spec() for key, h in handlers.items()}
    serialized = []
    for row in rows:
        feature = {}
        for key, handler in handlers.items():
            feature.update(handler.handle(row, key))
        serialized.append(
            tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()
        )

    def parse(batch):
        return decode_example(specs, tf.io.parse_example(batch, parse_spec(specs)))

    dataset = tf.data.Dataset.from_tensor_slices(serialized).batch(3).map(parse)
    decoded = {key: [] for key in handlers}
    for batch in dataset:
        for key in handlers:
            decoded[key].extend(batch[key].numpy())
    for key, handler in handlers.items():
        assert len(decoded[key]) == len(rows)
        for value, row in zip(decoded[key], rows, strict=True):
            assert_decoded_equal(handler, value, transformed(handler, row[key], key))


def test_write_records_then_dataset_from_records(tmp_path, digits):
    from reproml.records.reader import dataset_from_records
    from reproml.records.writer import write_records

    rows = make_rows(tmp_path, digits)
    handlers = {key: make() for key, make in HANDLERS.items()}
    record_dir = tmp_path / "records"
    manifest = write_records(
        record_dir,
        "{split}-{idx:05d}.tfrecord",
        handlers,
        samples_per_record=3,
        split_to_size={"train": len(rows)},
        rows_gen=lambda split: iter(rows),
        num_workers=0,
        progress=False,
    )
    for key, handler in handlers.items():
        assert manifest.schema[key].spec == handler.spec()
        assert manifest.schema[key].handler == handler.describe()
    assert manifest.schema["label"].spec.names == tuple("0123456789")

    for batch_size in (None, 3):
        dataset = dataset_from_records("train", record_dir, batch_size=batch_size)
        elements = (
            list(dataset)
            if batch_size is None
            else [
                {k: t[i] for k, t in batch.items()}
                for batch in dataset
                for i in range(len(batch["raw"]))
            ]
        )
        assert len(elements) == len(rows)
        for element, row in zip(elements, rows, strict=True):
            for key, handler in handlers.items():
                expected = transformed(handler, row[key], key)
                assert_decoded_equal(handler, element[key].numpy(), expected)
