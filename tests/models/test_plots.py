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


def test_multilabel_pr_scores_agree_with_scikit_learn_and_the_bars_are_named(tmp_path):
    from sklearn.metrics import average_precision_score, precision_score, recall_score

    names = ("cat", "dog", "unicorn")
    rng = np.random.default_rng(0)
    labels = (rng.random((40, 3)) < [0.5, 0.3, 0.0]).astype(np.float32)  # no unicorn
    probs = np.clip(labels * 0.5 + rng.random((40, 3)) * 0.6, 0, 1)
    fig, scores = plots.multilabel_pr_figure(labels, probs, names, 0.5)
    try:
        pr_ax, bar_ax = fig.axes
        assert [t.get_text() for t in bar_ax.get_xticklabels()] == list(names)
        legend = [t.get_text() for t in pr_ax.get_legend().get_texts()]
        assert [text.split(" (AP")[0] for text in legend] == ["cat", "dog"]
    finally:
        plots.plt.close(fig)
    predicted = probs >= 0.5
    for i, name in enumerate(names[:2]):
        assert scores[name]["precision"] == pytest.approx(
            precision_score(labels[:, i], predicted[:, i])
        )
        assert scores[name]["recall"] == pytest.approx(recall_score(labels[:, i], predicted[:, i]))
        assert scores[name]["average_precision"] == pytest.approx(
            average_precision_score(labels[:, i], probs[:, i])
        )
        assert scores[name]["support"] == int(labels[:, i].sum())
    assert scores["unicorn"]["precision"] == 0 and scores["unicorn"]["recall"] == 0
    assert np.isnan(scores["unicorn"]["average_precision"])
    path, saved = plots.save_multilabel_pr(labels, probs, tmp_path / "pr.png", names, 0.5)
    assert Image.open(path).size == (1100, 500) and saved.keys() == scores.keys()


@pytest.mark.parametrize(
    ("labels", "probs", "names", "message"),
    [
        (np.ones((4, 2)), np.ones((4, 3)), ("a", "b"), r"both \[N, L\]"),
        (np.ones((0, 2)), np.ones((0, 2)), ("a", "b"), r"N >= 1"),
        (np.ones((4, 2)), np.ones((4, 2)), ("a",), "expected 2 names, got 1"),
        (np.full((4, 2), 2.0), np.ones((4, 2)), ("a", "b"), "multi-hot array of 0 and 1"),
    ],
)
def test_multilabel_pr_refuses_bad_shapes_and_labels(tmp_path, labels, probs, names, message):
    with pytest.raises(ValueError, match=message):
        plots.save_multilabel_pr(labels, probs, tmp_path / "pr.png", names, 0.5)
    assert not (tmp_path / "pr.png").exists()
