"""EncodedImageHandler on a messy folder: JPEG (RGB, grey, CMYK), PNG (RGBA, palette, 16-bit, grey)."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from handlers import ClassLabelHandler, EncodedImageHandler
from reproml.errors import ConfigError, HandlerError
from reproml.records.manifest import load_manifest
from reproml.records.reader import dataset_from_records
from reproml.records.writer import write_records
from tests.handlers.decode_ways import assert_all_ways_equal, decode_four_ways, serialize_rows

KEY = "image"


def _gradient(height: int, width: int) -> np.ndarray:
    y, x = np.mgrid[0:height, 0:width]
    return np.stack(
        [x * 255 // max(width - 1, 1), y * 255 // max(height - 1, 1), 0 * x + 90], -1
    ).astype(np.uint8)


@pytest.fixture(scope="module")
def messy(tmp_path_factory) -> dict[str, Path]:
    """One file per mode, each of its own size."""
    folder = tmp_path_factory.mktemp("messy")
    rng = np.random.default_rng(7)
    files = {
        "rgb.jpg": (Image.fromarray(_gradient(20, 30)), {"quality": 95}),
        "grey.jpg": (Image.fromarray(_gradient(17, 11)[:, :, 0]), {}),
        "cmyk.jpg": (Image.fromarray(_gradient(13, 9)).convert("CMYK"), {}),
        "rgba.png": (Image.fromarray(rng.integers(0, 256, (9, 14, 4), dtype=np.uint8)), {}),
        "palette.png": (
            Image.fromarray(rng.integers(0, 256, (12, 8, 3), dtype=np.uint8)).convert("P"),
            {},
        ),
        # 16-bit values k * 257 decode to exactly k in 8 bits.
        "deep16.png": (
            Image.fromarray((rng.integers(0, 256, (10, 10)) * 257).astype(np.uint16)),
            {},
        ),
        "grey.png": (Image.fromarray(rng.integers(0, 256, (5, 7), dtype=np.uint8)), {}),
    }
    paths = {}
    for name, (image, options) in files.items():
        paths[name] = folder / name
        image.save(paths[name], **options)
    return paths


# The file's own bands, as stored in image/channels.
BANDS = {
    "rgb.jpg": 3,
    "grey.jpg": 1,
    "cmyk.jpg": 4,
    "rgba.png": 4,
    "palette.png": 1,
    "deep16.png": 1,
    "grey.png": 1,
}


def _crop_or_pad(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """NumPy reference of tf.image.resize_with_crop_or_pad: centre crop, then centre zero pad."""
    for axis, target in ((0, height), (1, width)):
        size = image.shape[axis]
        if size > target:
            start = (size - target) // 2
            image = np.take(image, range(start, start + target), axis=axis)
        elif size < target:
            before = (target - size) // 2
            pad = [(0, 0)] * image.ndim
            pad[axis] = (before, target - size - before)
            image = np.pad(image, pad)
    return image


def _pil_rgb(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        if image.mode == "I;16":  # PIL clips 16-bit to 255; TensorFlow keeps the high byte
            grey = (np.array(image).astype(np.uint32) // 257).astype(np.uint8)
            return np.repeat(grey[:, :, None], 3, axis=2)
        return np.array(image.convert("RGB"))


def test_stores_the_files_bytes_unchanged_with_size_bands_and_sha256(messy):
    handler = EncodedImageHandler(size=(8, 12))
    for name, path in messy.items():
        data = path.read_bytes()
        for value in (path, str(path), data):
            parts = handler.transform(value, KEY)
            assert parts[""] == data, name
            assert parts["/sha256"] == hashlib.sha256(data).hexdigest()
            with Image.open(path) as image:
                assert (parts["/width"], parts["/height"]) == image.size
            assert parts["/channels"] == BANDS[name], name
    assert sorted(handler.feature_specs(KEY)) == [
        "image",
        "image/channels",
        "image/height",
        "image/sha256",
        "image/width",
    ]


def test_png_crop_or_pad_decodes_exactly_to_pil_rgb_eagerly_and_in_tf_data(messy):
    """Crop and pad, no resampling: PNG pixels come back exactly, every mode converted to RGB."""
    handler = EncodedImageHandler(size=(8, 12), size_policy="crop_or_pad")
    names = [n for n in messy if n.endswith(".png")]
    values = [messy[n] for n in names]
    expected = {
        KEY: [_crop_or_pad(_pil_rgb(messy[n]), 8, 12) for n in names],
        "image/height": [Image.open(messy[n]).size[1] for n in names],
        "image/width": [Image.open(messy[n]).size[0] for n in names],
        "image/channels": [BANDS[n] for n in names],
        "image/sha256": [hashlib.sha256(messy[n].read_bytes()).hexdigest().encode() for n in names],
    }
    assert_all_ways_equal(handler, values, KEY, expected)


def test_jpeg_decodes_as_tensorflow_decodes_the_file_and_close_to_pil(messy):
    """Grey and CMYK JPEGs become RGB; the pixels are TensorFlow's decode of the file itself."""
    handler = EncodedImageHandler(size=(16, 16), size_policy="crop_or_pad")
    names = [n for n in messy if n.endswith(".jpg")]
    reference = [
        _crop_or_pad(tf.io.decode_jpeg(messy[n].read_bytes(), channels=3).numpy(), 16, 16)
        for n in names
    ]
    assert_all_ways_equal(handler, [messy[n] for n in names], KEY, {KEY: reference})
    for name, ref in zip(names, reference, strict=True):  # other decoders differ by rounding
        pil = _crop_or_pad(_pil_rgb(messy[name]), 16, 16)
        assert np.abs(ref.astype(int) - pil.astype(int)).max() <= 8, name


def _png(array: np.ndarray) -> bytes:
    out = io.BytesIO()
    Image.fromarray(array).save(out, "PNG")
    return out.getvalue()


def test_resize_policy_brings_every_size_to_one_shape():
    colour = np.array([200, 100, 50], np.uint8)
    values = [
        _png(np.broadcast_to(colour, (h, w, 3)).copy()) for h, w in [(7, 5), (30, 41), (8, 12)]
    ]
    handler = EncodedImageHandler(size=(8, 12), size_policy="resize")
    expected = [np.broadcast_to(colour, (8, 12, 3))] * 3
    assert_all_ways_equal(handler, values, KEY, {KEY: expected})


def test_resize_with_pad_keeps_the_aspect_ratio():
    white = np.full((10, 20), 255, np.uint8)  # grey, decoded to 1 channel
    handler = EncodedImageHandler(size=(20, 20), channels=1, size_policy="resize_with_pad")
    expected = np.zeros((20, 20, 1), np.uint8)
    expected[5:15] = 255
    assert_all_ways_equal(handler, [_png(white)], KEY, {KEY: [expected]})


def test_nearest_interpolation_keeps_the_values():
    """Nearest neighbour (the masks' policy) never invents a value: upsampling x2 repeats pixels."""
    labels = np.array([[0, 1, 2], [3, 4, 5]], np.uint8)
    handler = EncodedImageHandler(size=(4, 6), channels=1, interpolation="nearest")
    expected = np.repeat(np.repeat(labels, 2, axis=0), 2, axis=1)[:, :, None]
    assert_all_ways_equal(handler, [_png(labels)], KEY, {KEY: [expected]})


def test_write_and_read_a_messy_folder_through_the_manifest(messy, tmp_path):
    """Mixed sizes and modes in one dataset; the spec (with its size policy) is the manifest's."""
    names = sorted(messy)
    rows = [{"image": messy[n], "label": i % 2} for i, n in enumerate(names)]
    handler = EncodedImageHandler(size=(10, 10), size_policy="resize")
    manifest = write_records(
        tmp_path / "records",
        "{split}-{idx:03d}.tfrecord",
        {"image": handler, "label": ClassLabelHandler(num_classes=2)},
        samples_per_record=3,
        split_to_size={"train": len(rows)},
        rows_gen=lambda split: rows,
        progress=False,
    )
    spec = load_manifest(tmp_path / "records").schema["image"].spec
    assert spec.to_json() == {
        "encoding": "encoded_image",
        "dtype": "uint8",
        "shape": [10, 10, 3],
        "size_policy": "resize",
        "interpolation": "bilinear",
        "decode_scale": "full",
    }
    stored = sum(shard.bytes for shard in manifest.splits["train"].shards)
    files = sum(messy[n].stat().st_size for n in names)
    # The files' bytes plus ~210 bytes per example: keys, sizes, the hex sha256, framing.
    assert files < stored < files + 300 * len(names)
    one = list(dataset_from_records("train", tmp_path / "records").as_numpy_iterator())
    batches = list(dataset_from_records("train", tmp_path / "records", batch_size=4))
    batched = {k: np.concatenate([b[k].numpy() for b in batches]) for k in batches[0]}
    serialized = serialize_rows(handler, [messy[n] for n in names], KEY)
    eager = decode_four_ways(handler, serialized, KEY)["eager"][KEY]
    for i, name in enumerate(names):
        assert one[i]["image"].shape == (10, 10, 3)
        np.testing.assert_array_equal(one[i]["image"], eager[i])
        np.testing.assert_array_equal(batched["image"][i], eager[i])
        assert (
            one[i]["image/sha256"] == hashlib.sha256(messy[name].read_bytes()).hexdigest().encode()
        )
        assert one[i]["image/channels"] == BANDS[name]


@pytest.mark.parametrize("channels", [1, 3, 4])
def test_a_file_is_accepted_exactly_when_tensorflow_decodes_it_to_the_channels(messy, channels):
    """JPEGs do not decode to 4 channels, CMYK JPEGs not to 1: refused when written, by name."""
    handler = EncodedImageHandler(size=(4, 4), channels=channels)
    accepted = []
    for name, path in messy.items():
        try:
            tf.io.decode_image(path.read_bytes(), channels=channels, expand_animations=False)
        except tf.errors.InvalidArgumentError:
            with pytest.raises(HandlerError) as err:
                handler.transform(path, KEY)
            assert str(err.value).startswith(
                f"key 'image': expected an image TensorFlow decodes to {channels} channel(s)"
            )
            assert str(err.value).endswith(f"JPEG: {path}")
        else:
            handler.transform(path, KEY)
            accepted.append(name)
    refused = {1: {"cmyk.jpg"}, 3: set(), 4: {"rgb.jpg", "grey.jpg", "cmyk.jpg"}}[channels]
    assert set(messy) - set(accepted) == refused
    expected = {"image/channels": [BANDS[n] for n in accepted]}
    assert_all_ways_equal(handler, [messy[n] for n in accepted], KEY, expected)


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory, messy) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("bad")
    truncated = folder / "truncated.png"
    truncated.write_bytes(messy["rgba.png"].read_bytes()[:-40])
    half_jpeg = folder / "half.jpg"
    half_jpeg.write_bytes(messy["rgb.jpg"].read_bytes()[:200])
    gif = folder / "anim.gif"
    Image.fromarray(np.zeros((4, 4), np.uint8)).save(gif)
    text = folder / "notes.png"
    text.write_text("not an image")
    return {"truncated": truncated, "half_jpeg": half_jpeg, "gif": gif, "text": text}


@pytest.mark.parametrize(
    ("case", "got"),
    [
        ("truncated", "an unreadable file: {path}"),
        ("half_jpeg", "an unreadable file: {path}"),
        ("gif", "a GIF file: {path}"),
        ("text", "an unreadable file: {path}"),
        ("missing", "no such file: {path}"),
        ("directory", "a directory: {path}"),
        ("number", "a int"),
    ],
)
def test_bad_inputs_name_the_file(case, got, bad_files, tmp_path):
    value = {"missing": tmp_path / "nope.jpg", "directory": tmp_path, "number": 3}.get(
        case, bad_files.get(case)
    )
    with pytest.raises(HandlerError) as err:
        EncodedImageHandler(size=(4, 4)).transform(value, KEY)
    message = str(err.value)
    assert message.startswith(
        "key 'image': expected a readable PNG or JPEG file (a path, or its bytes), got "
        + got.format(path=value)
    ), message


def test_an_unreadable_file_in_a_write_names_split_row_and_file_and_writes_nothing(
    messy, bad_files, tmp_path
):
    rows = [
        {"image": messy["rgb.jpg"]},
        {"image": messy["grey.png"]},
        {"image": bad_files["truncated"]},
    ]
    with pytest.raises(HandlerError) as err:
        write_records(
            tmp_path / "out",
            "{split}-{idx:03d}.tfrecord",
            {"image": EncodedImageHandler(size=(4, 4))},
            samples_per_record=10,
            split_to_size={"train": 3},
            rows_gen=lambda split: rows,
            progress=False,
        )
    assert str(err.value).startswith(
        "split 'train', row 2, key 'image': expected a readable PNG or JPEG file"
    )
    assert str(bad_files["truncated"]) in str(err.value)
    assert list((tmp_path / "out").iterdir()) == []


@pytest.mark.parametrize(
    ("kwargs", "entry"),
    [
        ({"size": (0, 4)}, "EncodedImageHandler.size"),
        ({"size": (4,)}, "EncodedImageHandler.size"),
        ({"size": (4, 4), "channels": 2}, "EncodedImageHandler.channels"),
        ({"size": (4, 4), "size_policy": "stretch"}, "EncodedImageHandler.size_policy"),
        ({"size": (4, 4), "interpolation": "cubic"}, "EncodedImageHandler.interpolation"),
        ({"size": (4, 4), "decode_scale": "half"}, "EncodedImageHandler.decode_scale"),
        (
            {"size": (4, 4), "size_policy": "crop_or_pad", "decode_scale": "auto"},
            "EncodedImageHandler.decode_scale",
        ),
    ],
)
def test_bad_settings_name_the_setting(kwargs, entry):
    with pytest.raises(ConfigError, match=entry):
        EncodedImageHandler(**kwargs)


def _jpeg(array: np.ndarray) -> bytes:
    out = io.BytesIO()
    Image.fromarray(array).save(out, format="JPEG", quality=90)
    return out.getvalue()


@pytest.mark.parametrize(
    ("stored", "ratio"),
    [((70, 90), 4), ((40, 200), 2), ((16, 20), 1), ((10, 12), 1), ((130, 170), 8)],
)
def test_decode_scale_auto_decodes_a_jpeg_at_the_largest_ratio_still_at_least_the_size(
    stored, ratio
):
    """ratio = the largest of 1, 2, 4, 8 with stored >= ratio * (16, 20); then resized."""
    rng = np.random.default_rng(3)
    noisy = np.clip(_gradient(*stored) + rng.normal(0, 12, (*stored, 3)), 0, 255)
    data = _jpeg(noisy.astype(np.uint8))
    scaled = tf.io.decode_jpeg(data, channels=3, ratio=ratio)
    assert ratio == 1 or (scaled.shape[0] >= 16 and scaled.shape[1] >= 20)
    want = tf.saturate_cast(tf.round(tf.image.resize(scaled, (16, 20))), tf.uint8).numpy()
    handler = EncodedImageHandler(size=(16, 20), decode_scale="auto")
    assert_all_ways_equal(handler, [data, data], KEY, {KEY: [want, want]})
    full = EncodedImageHandler(size=(16, 20))
    full_pixels = decode_four_ways(full, serialize_rows(full, [data], KEY), KEY)["eager"][KEY][0]
    assert np.array_equal(full_pixels, want) == (ratio == 1)


def test_decode_scale_auto_decodes_a_png_in_full(messy):
    """DCT scaling is JPEG's: a PNG (and the grey one) decodes as with "full"."""
    values = [messy["rgba.png"], messy["palette.png"], messy["grey.png"]]
    auto = EncodedImageHandler(size=(4, 4), decode_scale="auto")
    full = EncodedImageHandler(size=(4, 4))
    want = decode_four_ways(full, serialize_rows(full, values, KEY), KEY)["eager"][KEY]
    assert_all_ways_equal(auto, values, KEY, {KEY: want})
