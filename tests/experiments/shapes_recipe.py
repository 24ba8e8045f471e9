"""docs/experiments.md's recipe written as a researcher would, beside a small folder of images."""

from pathlib import Path

import numpy as np
from PIL import Image

from tests.doc_blocks import python_blocks

# The class sub-folders (one name with a space): the class is the bright channel.
CLASSES = ("red", "green", "dark blue")


def write_image_folder(root: Path, train: int = 10, test: int = 4, size: int = 24) -> None:
    """Write ``root/{train,test}/<class>/imgNN.png``: RGB PNGs of `size` x `size`, per class."""
    rng = np.random.default_rng(0)
    for split, count in (("train", train), ("test", test)):
        for channel, name in enumerate(CLASSES):
            folder = root / split / name
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(count):
                pixels = rng.integers(0, 60, (size, size, 3))
                pixels[:, :, channel] += 180
                Image.fromarray(pixels.astype(np.uint8)).save(folder / f"img{i:02d}.png")


def write_recipe_and_images(folder: Path, name: str = "shapes.py") -> Path:
    """Write the docs recipe as `name` and its images where its config looks (data/shapes)."""
    (recipe,) = python_blocks("docs/experiments.md")
    path = folder / name
    path.write_text(recipe)
    write_image_folder(folder / "data" / "shapes")
    return path
