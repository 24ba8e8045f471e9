"""load_mnist: explicit file, cache, verified download from a local server, digits fallback."""

from __future__ import annotations

import hashlib
import http.server
import io
import socket
import threading
import warnings

import numpy as np
import pytest
from scipy import ndimage
from sklearn.datasets import load_digits

from reproml.datasets import mnist as mnist_data
from reproml.datasets.mnist import (
    ChecksumMismatchError,
    DownloadError,
    MnistFallbackWarning,
    load_mnist,
    mnist_keys_to_handlers,
    mnist_rows,
    mnist_split_sizes,
)
from reproml.errors import ConfigError, RecordError
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


def test_cached_file_with_wrong_hash_is_an_error(npz, tmp_path):
    (tmp_path / "mnist.npz").write_bytes(npz[0] + b"x")
    with pytest.raises(
        RecordError, match=r"mnist.npz: has sha256 [0-9a-f]{64}, expected .*Delete it"
    ):
        load_mnist(cache_dir=tmp_path, sha256=npz[1], allow_download=False)


def test_explicit_path(npz, tmp_path):
    data, sha, arrays = npz
    path = tmp_path / "my.npz"
    path.write_bytes(data)
    got, source = load_mnist(path, sha256=sha)
    assert_arrays_equal(got, arrays)
    assert source == {"name": "mnist", "path": str(path), "sha256": sha, "how": "path"}
    with pytest.raises(RecordError, match="my.npz: has sha256"):
        load_mnist(path)  # the reference MNIST hash
    with pytest.raises(RecordError, match="missing.npz: does not exist"):
        load_mnist(tmp_path / "missing.npz")


def test_wrong_layout_names_the_arrays(tmp_path):
    path = tmp_path / "bad.npz"
    np.savez(path, x_train=np.zeros((2, 28, 28), np.uint8), y_train=np.zeros(2, np.uint8))
    with pytest.raises(RecordError, match=r"bad.npz: has no arrays \['x_test', 'y_test'\]"):
        load_mnist(path, sha256=None)
    np.savez(
        path,
        x_train=np.zeros((2, 8, 8), np.uint8),
        y_train=np.zeros(2, np.uint8),
        x_test=np.zeros((1, 28, 28), np.uint8),
        y_test=np.zeros(1, np.uint8),
    )
    with pytest.raises(
        RecordError, match=r"x_train is uint8 \(2, 8, 8\), expected uint8 \[N, 28, 28\]"
    ):
        load_mnist(path, sha256=None)


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
