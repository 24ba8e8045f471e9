import numpy as np
import pytest
from PIL import Image

from reproml.models import plots


def test_image_grid_places_every_image():
    images = np.stack([np.full((4, 3, 1), 10 * (i + 1), np.uint8) for i in range(5)])
    grid = plots.image_grid(images, ncols=2, padding=1)
    assert grid.shape == (3 * 5 + 1, 2 * 4 + 1, 1)
    assert grid[1, 1, 0] == 10 and grid[1, 5, 0] == 20 and grid[11, 1, 0] == 50
    assert grid[0, 0, 0] == 0 and grid[11, 5, 0] == 0  # padding and the empty cell


def test_float_images_are_read_as_tanh_range():
    grid = plots.image_grid(np.array([[[[-1.0]]], [[[1.0]]]]), ncols=2, padding=0)
    np.testing.assert_array_equal(grid[..., 0], [[0, 255]])


def test_save_image_grid_writes_a_png(tmp_path):
    path = plots.save_image_grid(np.zeros((10, 28, 28, 1), np.uint8), tmp_path / "s.png", ncols=5)
    with Image.open(path) as picture:
        assert picture.format == "PNG"
        assert picture.size == (2 * (5 * 29 + 1), 2 * (2 * 29 + 1))


def test_confusion_matrix_png(tmp_path):
    path = plots.save_confusion_matrix(np.array([[3, 1], [0, 4]]), tmp_path / "cm.png", ["a", "b"])
    with Image.open(path) as picture:
        assert picture.format == "PNG" and min(picture.size) > 50
    with pytest.raises(ValueError, match="square"):
        plots.save_confusion_matrix(np.zeros((2, 3)), tmp_path / "bad.png")
    with pytest.raises(ValueError, match="class_names"):
        plots.save_confusion_matrix(np.zeros((2, 2)), tmp_path / "bad.png", ["a"])


def test_sample_predictions_png(tmp_path):
    images = np.random.default_rng(0).integers(0, 255, (6, 28, 28, 1), dtype=np.uint8)
    path = plots.save_sample_predictions(
        images, [0, 1, 2, 0, 1, 2], [0, 1, 1, 0, 2, 2], tmp_path / "p.png", ncols=3
    )
    with Image.open(path) as picture:
        assert picture.format == "PNG"
    with pytest.raises(ValueError, match="same length"):
        plots.save_sample_predictions(images, [0], [0], tmp_path / "bad.png")


@pytest.mark.parametrize("shape", [(28, 28), (2, 28, 28, 2), (0, 28, 28, 1)])
def test_bad_image_shapes_are_refused(shape):
    with pytest.raises(ValueError, match="images"):
        plots.image_grid(np.zeros(shape, np.uint8))
