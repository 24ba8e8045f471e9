"""load_mnist: explicit file, cache, verified download from a local server, digits fallback."""

from __future__ import annotations

import hashlib
import http.server
import io
import logging
import socket
import threading
import warnings

import numpy as np
import pytest
from scipy import ndimage
from sklearn.datasets import load_digits

from reproml.datasets import mnist as mnist_data
from reproml.datasets.mnist import (
    MnistFallbackWarning,
    MnistFileWarning,
    load_mnist,
    mnist_keys_to_handlers,
    mnist_rows,
    mnist_split_sizes,
)
from reproml.errors import ChecksumMismatchError, ConfigError, DownloadError, RecordError
from reproml.records.reader import input_fn
from reproml.records.writer import write_records


def keras_npz_bytes(n_train: int = 20, n_test: int = 6) -> tuple[bytes, dict[str, np.ndarray]]:
    rng = np.random.default_rng(42)
    arrays = {
        "x_train": rng.integers(0, 256, size=(n_train, 28, 28), dtype=np.uint8),
        "y_train": rng.integers(0, 10, size=n_train).astype(np.uint8),
        "x_test": rng.integers(0, 256, size=(n_test, 28, 28), dtype=np.uint8),
        "y_test": rng.integers(0, 10, size=n_test).astype(np.uint8),
    }
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    return buffer.getvalue(), arrays


@pytest.fixture(scope="module")
def npz():
    data, arrays = keras_npz_bytes()
    return data, hashlib.sha256(data).hexdigest(), arrays


@pytest.fixture
def server(npz):
    """Serves the generated npz at http://127.0.0.1:<port>/mnist.npz and counts requests."""
    data = npz[0]
    hits = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's name)
            hits.append(self.path)
            if self.path != "/mnist.npz":
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", hits
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def closed_port_url():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/mnist.npz"


def assert_arrays_equal(got: dict, expected: dict) -> None:
    assert sorted(got) == sorted(expected)
    for key, value in expected.items():
        assert got[key].dtype == value.dtype
        np.testing.assert_array_equal(got[key], value)


def test_download_verifies_caches_and_reuses(server, npz, tmp_path):
    base, hits = server
    data, sha, arrays = npz
    got, source = load_mnist(
        cache_dir=tmp_path, url=f"{base}/mnist.npz", sha256=sha, progress=False
    )
    assert_arrays_equal(got, arrays)
    cached = tmp_path / "mnist.npz"
    assert cached.read_bytes() == data
    assert source == {
        "name": "mnist",
        "path": str(cached),
        "sha256": sha,
        "canonical": True,
        "how": "download",
        "url": f"{base}/mnist.npz",
    }
    assert [p.name for p in tmp_path.iterdir()] == ["mnist.npz"]  # no temp file left
    again, source = load_mnist(cache_dir=tmp_path, url=f"{base}/mnist.npz", sha256=sha)
    assert_arrays_equal(again, arrays)
    assert source["how"] == "cache" and len(hits) == 1


def test_checksum_mismatch_names_url_and_hashes_and_caches_nothing(server, npz, tmp_path):
    base, _ = server
    _, sha, _ = npz
    wrong = "0" * 64
    with pytest.raises(ChecksumMismatchError) as info:
        load_mnist(cache_dir=tmp_path, url=f"{base}/mnist.npz", sha256=wrong, progress=False)
    message = str(info.value)
    assert f"{base}/mnist.npz" in message and f"has sha256 {sha}, expected {wrong}" in message
    assert "Nothing was cached" in message
    assert list(tmp_path.iterdir()) == []


def test_default_cache_dir_follows_env(server, npz, tmp_path, monkeypatch):
    base, _ = server
    monkeypatch.setenv("REPROML_DATA_DIR", str(tmp_path / "data"))
    assert mnist_data.default_cache_dir() == tmp_path / "data"
    _, source = load_mnist(url=f"{base}/mnist.npz", sha256=npz[1], progress=False)
    assert source["path"] == str(tmp_path / "data" / "mnist.npz")


def keras_arrays(n_train: int = 5, n_test: int = 3, seed: int = 7) -> dict[str, np.ndarray]:
    """Tiny arrays in the Keras MNIST layout (labels int64, unlike the download's uint8)."""
    rng = np.random.default_rng(seed)
    return {
        "x_train": rng.integers(0, 256, size=(n_train, 28, 28), dtype=np.uint8),
        "y_train": rng.integers(0, 10, size=n_train),
        "x_test": rng.integers(0, 256, size=(n_test, 28, 28), dtype=np.uint8),
        "y_test": rng.integers(0, 10, size=n_test),
    }


def resaved(path, arrays) -> str:
    """np.savez_compressed `arrays` to `path` (not the canonical bytes); return its sha256."""
    np.savez_compressed(path, **arrays)
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_explicit_path(npz, tmp_path):
    data, sha, arrays = npz
    path = tmp_path / "my.npz"
    path.write_bytes(data)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the canonical file (here: `sha`) does not warn
        got, source = load_mnist(path, sha256=sha)
    assert_arrays_equal(got, arrays)
    assert source == {
        "name": "mnist",
        "path": str(path),
        "sha256": sha,
        "canonical": True,
        "how": "path",
    }
    with pytest.raises(RecordError, match="missing.npz: does not exist"):
        load_mnist(tmp_path / "missing.npz")


def test_resaved_file_is_accepted_with_one_warning_and_its_hash(tmp_path, caplog):
    """Issue 11: a re-saved copy in the Keras layout is used; the record says which file."""
    arrays = keras_arrays()
    path = tmp_path / "resaved.npz"
    sha = resaved(path, arrays)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with caplog.at_level(logging.WARNING, logger="reproml.datasets.mnist"):
            got, source = load_mnist(path)
    assert_arrays_equal(got, arrays)
    assert source == {
        "name": "mnist",
        "path": str(path),
        "sha256": sha,
        "canonical": False,
        "how": "path",
    }
    assert [w.category for w in caught] == [MnistFileWarning]
    message = str(caught[0].message)
    assert issubclass(MnistFileWarning, UserWarning)
    assert str(path) in message and sha in message and f"pin_sha256='{sha}'" in message
    assert caught[0].filename == __file__  # points at the caller of load_mnist
    assert [r.getMessage() for r in caplog.records] == [message]


def test_resaved_file_in_the_cache_is_accepted_with_one_warning(tmp_path):
    sha = resaved(tmp_path / "mnist.npz", keras_arrays())
    with pytest.warns(MnistFileWarning, match=f"mnist.npz is not the canonical.*{sha}") as caught:
        _, source = load_mnist(cache_dir=tmp_path, allow_download=False)
    assert len(caught) == 1
    assert source["how"] == "cache" and source["sha256"] == sha and not source["canonical"]


def test_pinned_file_is_used_without_warning_and_a_mismatch_is_refused(tmp_path):
    arrays = keras_arrays()
    path = tmp_path / "pinned.npz"
    sha = resaved(path, arrays)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got, source = load_mnist(path, pin_sha256=sha.upper())
    assert_arrays_equal(got, arrays)
    assert source["sha256"] == sha and source["canonical"] is False
    other = resaved(path, keras_arrays(seed=8))  # same name, other content
    with pytest.raises(RecordError) as info:
        load_mnist(path, pin_sha256=sha)
    message = str(info.value)
    assert info.value.path == str(path)
    assert f"has sha256 {other}, but pin_sha256 is {sha}" in message
    assert f"pin this one with pin_sha256='{other}'" in message
    # The pin applies to the cache too, and with a pin nothing falls back to the digits.
    (tmp_path / "cache").mkdir()
    path.rename(tmp_path / "cache" / "mnist.npz")
    with pytest.raises(RecordError, match=f"pin_sha256 is {sha}"):
        load_mnist(cache_dir=tmp_path / "cache", pin_sha256=sha, allow_download=False)
    with pytest.raises(RecordError, match="not available.*digits fallback is not used"):
        load_mnist(cache_dir=tmp_path / "empty", pin_sha256=sha, allow_download=False)


@pytest.mark.parametrize(
    ("entry", "value"),
    [("sha256", "abc"), ("sha256", None), ("pin_sha256", "g" * 64), ("pin_sha256", 12)],
)
def test_hashes_must_be_64_hex_digits(tmp_path, entry, value):
    with pytest.raises(ConfigError, match=f"config entry '{entry}': expected a sha256 of 64 hex"):
        load_mnist(cache_dir=tmp_path, allow_download=False, **{entry: value})


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda a: a.pop("x_test"), r"has no arrays \['x_test'\]"),
        (lambda a: a.update(x_train=a["x_train"][:, :8, :8]), r"x_train is uint8 \(5, 8, 8\)"),
        (lambda a: a.update(x_test=a["x_test"].astype(np.float32)), r"x_test is float32 \(3, 28"),
        (lambda a: a.update(x_train=a["x_train"][:0], y_train=a["y_train"][:0]), "x_train is"),
        (
            lambda a: a.update(y_train=a["y_train"][:4]),
            r"y_train is int64 \(4,\), expected .*\[5\]",
        ),
        (lambda a: a.update(y_test=a["y_test"][:, None]), r"y_test is int64 \(3, 1\)"),
        (lambda a: a.update(y_test=a["y_test"] * 0.5), r"y_test is float64 \(3,\)"),
        (lambda a: a.update(y_train=np.array([0, 1, 2, 10, 3])), r"y_train has labels 0\.\.10"),
        (lambda a: a.update(y_test=np.array([0, -1, 2])), r"y_test has labels -1\.\.2"),
        (
            lambda a: a.update(y_test=np.array([{}] * 3, dtype=object)),
            "array 'y_test' holds pickled",
        ),
    ],
    ids=[
        "missing",
        "shape",
        "dtype",
        "no-rows",
        "lengths",
        "label-shape",
        "label-dtype",
        "label-high",
        "label-negative",
        "pickled",
    ],
)
def test_wrong_layout_is_refused_naming_file_and_array(tmp_path, change, message):
    arrays = keras_arrays()
    change(arrays)
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # refused before any "not canonical" warning
        with pytest.raises(RecordError, match=message) as info:
            load_mnist(path)
    assert info.value.path == str(path)


def test_unreadable_cached_file_is_refused_naming_it(tmp_path):
    (tmp_path / "mnist.npz").write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(RecordError, match=r"mnist.npz: is not a readable \.npz"):
        load_mnist(cache_dir=tmp_path, allow_download=False)


def test_fallback_without_download_warns_and_records_source(tmp_path, server):
    _, hits = server
    with pytest.warns(MnistFallbackWarning, match="allow_download=False"):
        arrays, source = load_mnist(cache_dir=tmp_path, allow_download=False)
    assert hits == []
    assert source["name"] == "sklearn-digits" and "allow_download=False" in source["reason"]
    assert {k: (v.dtype, v.shape) for k, v in arrays.items()} == {
        "x_train": (np.uint8, (1497, 28, 28)),
        "y_train": (np.uint8, (1497,)),
        "x_test": (np.uint8, (300, 28, 28)),
        "y_test": (np.uint8, (300,)),
    }
    assert arrays["x_train"].max() == 255 and arrays["x_train"].min() == 0
    assert set(np.unique(arrays["y_test"])) == set(range(10))
    with pytest.warns(MnistFallbackWarning):
        again, _ = load_mnist(cache_dir=tmp_path, allow_download=False)
    assert_arrays_equal(again, arrays)
    # Each image is its digit upscaled: zoomed back to 8x8 it is close to the original.
    digits = load_digits()
    first_train = np.random.default_rng(0).permutation(len(digits.target))[300]
    assert arrays["y_train"][0] == digits.target[first_train]
    back = ndimage.zoom(arrays["x_train"][0].astype(float), 8 / 28, order=1) * 16 / 255
    assert back.shape == (8, 8)
    assert np.abs(back - digits.images[first_train]).mean() < 2.0


def test_unreachable_server_falls_back_or_raises(tmp_path, closed_port_url):
    with pytest.warns(MnistFallbackWarning, match="mnist.npz failed: could not be downloaded"):
        _, source = load_mnist(cache_dir=tmp_path, url=closed_port_url, timeout=5, progress=False)
    assert source["name"] == "sklearn-digits" and closed_port_url in source["reason"]
    with pytest.raises(DownloadError, match=f"{closed_port_url}: could not be downloaded"):
        load_mnist(cache_dir=tmp_path, url=closed_port_url, fallback=None, timeout=5)
    with pytest.raises(RecordError, match="is not cached and allow_download=False"):
        load_mnist(cache_dir=tmp_path, allow_download=False, fallback=None)
    with pytest.raises(ConfigError, match="'fallback'"):
        load_mnist(cache_dir=tmp_path, fallback="fashion")
    assert list(tmp_path.iterdir()) == []


def test_rows_serialize_and_read_back(npz, tmp_path):
    data, sha, arrays = npz
    path = tmp_path / "mnist.npz"
    path.write_bytes(data)
    arrays, source = load_mnist(path, sha256=sha)
    assert mnist_split_sizes(arrays) == {"train": 20, "test": 6}
    manifest = write_records(
        tmp_path / "records",
        "{split}-{idx:05d}.tfrecord",
        mnist_keys_to_handlers(),
        8,
        mnist_split_sizes(arrays),
        lambda split: mnist_rows(arrays, split),
        source=source,
        splits=("train", "test"),
        num_workers=0,
        progress=False,
    )
    assert manifest.source == source
    assert manifest.schema["label"].spec.names == tuple("0123456789")
    features, labels = next(iter(input_fn("test", 6, tmp_path / "records", n_epochs=1)()))
    np.testing.assert_array_equal(features["image"].numpy()[..., 0], arrays["x_test"])
    np.testing.assert_array_equal(labels.numpy(), arrays["y_test"])
    with pytest.raises(ConfigError, match="'split'"):
        next(mnist_rows(arrays, "eval"))


def test_no_warning_when_mnist_is_there(npz, tmp_path):
    (tmp_path / "mnist.npz").write_bytes(npz[0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_mnist(cache_dir=tmp_path, sha256=npz[1], allow_download=False)
