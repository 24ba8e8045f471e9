from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis.extra import numpy as hnp
from PIL import Image

from handlers import ImageArrayHandler, ImageFileHandler
from reproml.errors import ConfigError, HandlerError
from reproml.records.spec import FeatureSpec
from tests.handlers.roundtrip import PROPERTY, assert_roundtrip, transformed


def _digit_uint8(digit: np.ndarray) -> np.ndarray:
    return np.rint(digit * 255 / 16).astype(np.uint8)


def _rgb(height: int, width: int) -> np.ndarray:
    """A smooth RGB gradient (JPEG keeps smooth images close to the original)."""
    y, x = np.mgrid[0:height, 0:width]
    return np.stack(
        [x * 255 // max(width - 1, 1), y * 255 // max(height - 1, 1), 0 * x + 128], -1
    ).astype(np.uint8)


def test_png_gray_reads_exactly(tmp_path, digits):
    paths, arrays = [], []
    for i, digit in enumerate(digits):
        arrays.append(_digit_uint8(digit))
        paths.append(tmp_path / f"digit{i}.png")
        Image.fromarray(arrays[-1], mode="L").save(paths[-1])
    handler = ImageFileHandler(delegate_to=ImageArrayHandler((8, 8, 1)))
    for path, array in zip(paths, arrays, strict=True):
        np.testing.assert_array_equal(transformed(handler, path, "image"), array[:, :, None])
        np.testing.assert_array_equal(transformed(handler, str(path), "image"), array[:, :, None])
    assert_roundtrip(handler, paths, key="image")


def test_png_resized_8x8_to_28x28_equals_array_handler(tmp_path, digits):
    path = tmp_path / "digit.png"
    array = _digit_uint8(digits[1])
    Image.fromarray(array).save(path)
    array_handler = ImageArrayHandler((28, 28, 1))
    handler = ImageFileHandler(delegate_to=array_handler)
    out = transformed(handler, path, "image")
    assert out.shape == (28, 28, 1) and out.dtype == np.uint8
    np.testing.assert_array_equal(out, array_handler.transform(array, "image"))
    assert_roundtrip(handler, [path], key="image")


def test_png_rgb_and_jpeg(tmp_path):
    rgb = _rgb(16, 12)
    png, jpeg = tmp_path / "a.png", tmp_path / "a.jpg"
    Image.fromarray(rgb).save(png)
    Image.fromarray(rgb).save(jpeg, quality=95)
    handler = ImageFileHandler(delegate_to=ImageArrayHandler((16, 12, 3)))
    np.testing.assert_array_equal(transformed(handler, png, "image"), rgb)
    from_jpeg = transformed(handler, jpeg, "image")
    assert from_jpeg.shape == (16, 12, 3) and from_jpeg.dtype == np.uint8
    # JPEG is lossy: close to the original.
    assert np.abs(from_jpeg.astype(int) - rgb).mean() < 3
    assert_roundtrip(handler, [png, jpeg], key="image")


def test_mode_converts_rgb_file_to_gray(tmp_path):
    rgb = _rgb(6, 5)
    path = tmp_path / "a.png"
    Image.fromarray(rgb).save(path)
    handler = ImageFileHandler(delegate_to=ImageArrayHandler((6, 5, 1)), mode="L")
    expected = np.array(Image.fromarray(rgb).convert("L"))[:, :, None]
    np.testing.assert_array_equal(transformed(handler, path, "image"), expected)
    # Without mode, the RGB file does not fit a one-channel image.
    with pytest.raises(HandlerError, match="3 channel"):
        ImageFileHandler(delegate_to=ImageArrayHandler((6, 5, 1))).handle({"image": path}, "image")


@pytest.mark.parametrize("mode", ["L", "RGB"])
def test_a_16_bit_grey_png_keeps_its_pixels_when_converted(tmp_path, mode):
    # PIL's own I;16 -> L/RGB conversion clips above 255: this PNG became all 255 (white).
    grey16 = np.array([[0, 257, 12593], [25186, 38036, 65535]], np.uint16)
    path = tmp_path / "deep.png"
    Image.fromarray(grey16).save(path)
    assert Image.open(path).mode == "I;16"
    channels = 3 if mode == "RGB" else 1
    handler = ImageFileHandler(delegate_to=ImageArrayHandler((2, 3, channels)), mode=mode)
    expected = np.array([[0, 1, 49], [98, 148, 255]], np.uint8)[:, :, None]
    np.testing.assert_array_equal(
        transformed(handler, path, "image"), np.repeat(expected, channels, 2)
    )


def test_a_32_bit_image_is_kept_in_0_255_and_refused_beyond_naming_the_file(tmp_path):
    # PNG and JPEG files open as "I" only in other Pillow releases (Pillow 12 writes a 32-bit
    # array as a clipped 16-bit PNG), so the conversion step is given the opened image itself.
    path = tmp_path / "deep32.png"
    within = Image.fromarray(np.array([[0, 7, 255]], np.int32))
    assert within.mode == "I"
    converted = ImageFileHandler._to_8_bits(within, "image", path)
    np.testing.assert_array_equal(np.asarray(converted), [[0, 7, 255]])
    beyond = Image.fromarray(np.array([[0, 70000]], np.int32))
    with pytest.raises(HandlerError) as refused:
        ImageFileHandler._to_8_bits(beyond, "image", path)
    assert str(refused.value) == (
        "key 'image': expected an image with 8-bit, 16-bit (I;16) or palette pixels, or a 32-bit "
        f"one in [0, 255], got a I image with values in [0, 70000]: {path}"
    )


def test_palette_png_becomes_rgb_pixels(tmp_path):
    rgb = _rgb(4, 4)
    path = tmp_path / "p.png"
    paletted = Image.fromarray(rgb).quantize(colors=8)
    paletted.save(path)
    assert Image.open(path).mode == "P"
    handler = ImageFileHandler(delegate_to=ImageArrayHandler((4, 4, 3)))
    out = transformed(handler, path, "image")
    np.testing.assert_array_equal(out, np.array(paletted.convert("RGB")))


def test_spec_and_describe_come_from_the_chain():
    handler = ImageFileHandler(delegate_to=ImageArrayHandler((28, 28, 1)))
    assert handler.spec() == FeatureSpec("tensor_bytes", "uint8", (28, 28, 1))
    assert handler.describe() == "handlers.image.ImageFileHandler>handlers.image.ImageArrayHandler"


def test_needs_a_delegate():
    with pytest.raises(ConfigError, match="ImageFileHandler.delegate_to"):
        ImageFileHandler(delegate_to=None)


def _write_text(path: Path) -> Path:
    path.write_text("not an image")
    return path


def _write_gif(path: Path) -> Path:
    Image.fromarray(np.zeros((4, 4), np.uint8)).save(path, format="GIF")
    return path


def _write_truncated_png(path: Path) -> Path:
    Image.fromarray(_rgb(32, 32)).save(path)
    path.write_bytes(path.read_bytes()[:60])
    return path


# (name, make value from tmp_path, message substrings)
INVALID = [
    ("missing file", lambda d: d / "nope.png", ["no such file", "nope.png"]),
    ("a directory", lambda d: d, ["got a directory: "]),
    (
        "text file named .png",
        lambda d: _write_text(d / "fake.png"),
        ["unreadable file", "fake.png"],
    ),
    (
        "truncated png",
        lambda d: _write_truncated_png(d / "cut.png"),
        ["unreadable file", "cut.png"],
    ),
    ("gif", lambda d: _write_gif(d / "a.gif"), ["a GIF file", "a.gif"]),
    ("an int", lambda d: 3, ["a path", "got a int"]),
    ("an array", lambda d: np.zeros((2, 2)), ["a path", "ndarray"]),
    ("bytes", lambda d: b"a.png", ["a path", "bytes"]),
]


@pytest.mark.parametrize("make,messages", [v[1:] for v in INVALID], ids=[v[0] for v in INVALID])
def test_invalid_files(tmp_path, make, messages):
    handler = ImageFileHandler(delegate_to=ImageArrayHandler((4, 4)))
    with pytest.raises(HandlerError, match="key 'image'") as err:
        handler.handle({"image": make(tmp_path)}, "image")
    for message in messages:
        assert message in str(err.value)


@PROPERTY
@given(hnp.arrays(np.uint8, hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=9)))
def test_property_png_round_trip_is_exact(tmp_path_factory, image):
    path = tmp_path_factory.mktemp("png") / "x.png"
    Image.fromarray(image).save(path)
    handler = ImageFileHandler(delegate_to=ImageArrayHandler(image.shape + (1,)))
    np.testing.assert_array_equal(transformed(handler, path, "image"), image[:, :, None])
    assert_roundtrip(handler, [path], key="image")
