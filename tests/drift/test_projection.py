"""The label-coloured projection: seeded UMAP / PCA coordinates and the four-panel PNG."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from reproml.drift.embeddings import Embeddings, ImageBatch
from reproml.drift.projection import project, save_label_projection
from reproml.errors import ProjectionError

CLASSES = ("cat", "dog", "bird")
EPOCHS = 60  # enough for three well-separated clusters; keeps each fit well under a second


def _sample(rng, n: int, shift: float = 0.0, labelled: bool = True, wrong: float = 0.1):
    """`n` 16-D embeddings in three clusters (one a class); `wrong` of the predictions are off."""
    labels = rng.integers(0, 3, n)
    centres = np.eye(3, 16) * 8.0
    embedding = centres[labels] + rng.normal(size=(n, 16)) + shift
    predicted = labels.copy()
    flip = rng.random(n) < wrong
    predicted[flip] = (labels[flip] + 1) % 3
    batch = ImageBatch(np.zeros((n, 2, 2, 3), np.uint8), labels if labelled else None)
    return Embeddings(
        embedding.astype(np.float32), predicted, np.full((n, 3), 1 / 3, np.float32), batch
    )


@pytest.fixture(scope="module")
def samples():
    rng = np.random.default_rng(0)
    return _sample(rng, 150), _sample(rng, 150, shift=1.5, wrong=0.4)


@pytest.mark.parametrize("method", ["umap", "pca"])
def test_same_seed_gives_identical_coordinates(samples, method):
    points = np.concatenate([s.embedding for s in samples])
    first = project(points, method, seed=3, n_epochs=EPOCHS)
    assert first.shape == (300, 2) and np.isfinite(first).all()
    np.testing.assert_array_equal(first, project(points, method, seed=3, n_epochs=EPOCHS))
    if method == "umap":
        assert not np.array_equal(first, project(points, method, seed=4, n_epochs=EPOCHS))


def test_umap_keeps_the_classes_apart(samples):
    base, _ = samples
    xy = project(base.embedding, "umap", seed=0, n_epochs=EPOCHS)
    labels = base.data.labels
    # Each point's nearest other point in 2-D is of its own class.
    distances = np.linalg.norm(xy[:, None] - xy[None], axis=-1)
    np.fill_diagonal(distances, np.inf)
    assert (labels[distances.argmin(axis=1)] == labels).mean() > 0.95


def test_png_of_four_panels_is_reproducible(samples, tmp_path):
    base, prod = samples
    paths = [
        save_label_projection(base, prod, CLASSES, tmp_path / f"{i}.png", seed=1, n_epochs=EPOCHS)
        for i in range(2)
    ]
    image = Image.open(paths[0])
    assert image.format == "PNG" and image.size == (1100, 950)
    assert paths[0].read_bytes() == paths[1].read_bytes()
    other = save_label_projection(
        base, prod, CLASSES, tmp_path / "pca.png", method="pca", seed=1, max_points=50
    )
    assert other.read_bytes() != paths[0].read_bytes()


def test_production_without_labels_is_drawn_as_unknown(tmp_path):
    rng = np.random.default_rng(1)
    base, prod = _sample(rng, 60), _sample(rng, 60, labelled=False)
    path = save_label_projection(base, prod, CLASSES, tmp_path / "p.png", n_epochs=EPOCHS)
    assert Image.open(path).size == (1100, 950)


@pytest.mark.parametrize(
    ("points", "method", "match"),
    [
        (np.zeros((10, 4)), "tsne", r"'tsne'.*\('umap', 'pca'\)"),
        (np.zeros((3, 4)), "umap", r"shape \(3, 4\).*N >= 4"),
        (np.zeros(10), "pca", r"shape \(10,\).*\[N, D\]"),
    ],
)
def test_bad_input_is_one_clear_error(points, method, match):
    with pytest.raises(ProjectionError, match=match):
        project(points, method)
