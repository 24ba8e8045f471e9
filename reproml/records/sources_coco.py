"""Row source: COCO annotation JSON (images, categories, boxes, polygon or RLE masks) into rows.

One row per image of the JSON (sorted by image id)::

    {image_key: "<image_dir>/<file_name>",
     objects_key: {"boxes": [[ymin, xmin, ymax, xmax], ...] (normalized), "labels": [name, ...]},
     labels_key: [the distinct category names of the image],
     mask_key: uint8 [height, width]: 0 background, i + 1 on the pixels of the row's box i,
     "image_id": the COCO id}

for `BoxesHandler(names=src.category_names)`, `MultiLabelHandler`, `MaskHandler` and
`EncodedImageHandler`. Boxes come from COCO's pixel ``[x, y, width, height]``; a box that
overhangs the image by at most `box_tolerance_px` pixels (rounding in real annotations) is
clipped to it, more is an error naming the annotation. Masks are rasterized with pycocotools
(polygons, uncompressed and compressed RLE); where instances overlap, the later annotation
wins. Crowd annotations (``iscrowd: 1``) are skipped unless ``skip_crowd=False``. Every
annotation file's sha256 is recorded in the manifest's source.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
from pycocotools import mask as coco_mask

from reproml.errors import ConfigError, RecordError
from reproml.records.file_hash import file_sha256
from reproml.records.sources import RowSource

MAX_INSTANCES = 255  # instance ids of a uint8 mask
MASK_RULE = "0 background, i + 1 on the pixels of the row's box i (later annotations win)"


@dataclasses.dataclass(frozen=True)
class CocoSource(RowSource):
    """A `RowSource` of COCO rows with the category names (in category id order)."""

    category_names: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class _Image:
    id: int
    file: Path
    height: int
    width: int
    annotations: tuple[dict[str, Any], ...]


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and np.isfinite(value)


def _read(
    path: Path, image_dir: Path, skip_crowd: bool
) -> tuple[list[tuple[int, str]], list[_Image], int]:
    """Returns the categories ``(id, name)``, the images with their annotations, crowds skipped."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RecordError(path, "no such annotation file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise RecordError(path, f"is not a readable JSON file ({err})") from err
    if not isinstance(data, dict) or not all(
        isinstance(data.get(k), list) for k in ("images", "categories", "annotations")
    ):
        raise RecordError(
            path, "expected a COCO object with lists 'images', 'categories', 'annotations'"
        )
    categories = []
    for i, cat in enumerate(data["categories"]):
        if (
            not isinstance(cat, dict)
            or not isinstance(cat.get("id"), int)
            or not isinstance(cat.get("name"), str)
        ):
            raise RecordError(
                path, f"categories[{i}]: expected {{'id': int, 'name': str}}, got {cat!r:.80}"
            )
        categories.append((cat["id"], cat["name"]))
    categories.sort()
    ids = [c for c, _ in categories]
    names = [n for _, n in categories]
    for what, values in (("id", ids), ("name", names)):
        twice = sorted({v for v in values if values.count(v) > 1})
        if twice:
            raise RecordError(path, f"categories: {what}s {twice} appear more than once")
    images: dict[int, dict[str, Any]] = {}
    for i, image in enumerate(data["images"]):
        ok = (
            isinstance(image, dict)
            and isinstance(image.get("id"), int)
            and isinstance(image.get("file_name"), str)
        )
        ok = ok and all(isinstance(image.get(k), int) and image[k] > 0 for k in ("height", "width"))
        if not ok:
            raise RecordError(
                path,
                f"images[{i}]: expected id, file_name, and height and width > 0, got {image!r:.120}",
            )
        if image["id"] in images:
            raise RecordError(path, f"images[{i}]: image id {image['id']} appears more than once")
        images[image["id"]] = image
    by_image: dict[int, list[dict[str, Any]]] = {i: [] for i in images}
    crowd = 0
    for i, ann in enumerate(data["annotations"]):
        where = f"annotation {ann.get('id', f'[{i}]') if isinstance(ann, dict) else f'[{i}]'}"
        if not isinstance(ann, dict) or ann.get("image_id") not in images:
            raise RecordError(
                path, f"{where}: expected an image_id of the images list, got {ann!r:.120}"
            )
        if ann.get("category_id") not in ids:
            raise RecordError(
                path, f"{where}: category_id {ann.get('category_id')!r} is not a category id {ids}"
            )
        bbox = ann.get("bbox")
        if not isinstance(bbox, list) or len(bbox) != 4 or not all(_number(v) for v in bbox):
            raise RecordError(
                path, f"{where}: expected bbox [x, y, width, height] of numbers, got {bbox!r:.80}"
            )
        if ann.get("iscrowd", 0) and skip_crowd:
            crowd += 1
            continue
        by_image[ann["image_id"]].append({**ann, "_where": where})
    listed = [
        _Image(
            id=i,
            file=(image_dir / images[i]["file_name"]).resolve(),
            height=images[i]["height"],
            width=images[i]["width"],
            annotations=tuple(by_image[i]),
        )
        for i in sorted(images)
    ]
    return categories, listed, crowd


def _box(path: Path, image: _Image, ann: dict[str, Any], tolerance: float) -> list[float]:
    """Returns the normalized [ymin, xmin, ymax, xmax] of a COCO pixel box, clipped within tolerance."""
    x, y, w, h = (float(v) for v in ann["bbox"])
    where = f"{ann['_where']} (image {image.id}, {image.width}x{image.height})"
    if w <= 0 or h <= 0:
        raise RecordError(
            path, f"{where}: bbox {ann['bbox']} has no area (width and height must be > 0)"
        )
    over = max(-x, -y, x + w - image.width, y + h - image.height)
    if over > tolerance:
        raise RecordError(
            path,
            f"{where}: bbox {ann['bbox']} lies {over:g} px outside the image "
            f"(box_tolerance_px={tolerance:g})",
        )
    ymin, xmin = max(y, 0.0) / image.height, max(x, 0.0) / image.width
    ymax, xmax = min(y + h, image.height) / image.height, min(x + w, image.width) / image.width
    if ymin >= ymax or xmin >= xmax:
        raise RecordError(path, f"{where}: bbox {ann['bbox']} has no area inside the image")
    return [ymin, xmin, ymax, xmax]


def _instance_mask(path: Path, image: _Image, ann: dict[str, Any]) -> np.ndarray:
    """Returns the uint8 [H, W] 0/1 mask of one annotation's segmentation."""
    seg = ann.get("segmentation")
    where = f"{ann['_where']} (image {image.id})"
    height, width = image.height, image.width
    try:
        if isinstance(seg, list):
            if not seg or not all(
                isinstance(p, list)
                and len(p) >= 6
                and len(p) % 2 == 0
                and all(_number(v) for v in p)
                for p in seg
            ):
                raise RecordError(
                    path,
                    f"{where}: expected polygons [[x0, y0, x1, y1, x2, y2, ...], ...], got {seg!r:.80}",
                )
            rle = coco_mask.merge(coco_mask.frPyObjects(seg, height, width))
        elif isinstance(seg, dict) and "counts" in seg and "size" in seg:
            if list(seg["size"]) != [height, width]:
                raise RecordError(
                    path, f"{where}: RLE size {seg['size']} is not the image's [{height}, {width}]"
                )
            if isinstance(seg["counts"], list):
                if sum(seg["counts"]) != height * width:
                    raise RecordError(
                        path,
                        f"{where}: RLE counts sum to {sum(seg['counts'])}, not {height * width}",
                    )
                rle = coco_mask.frPyObjects(seg, height, width)
            else:
                rle = {"size": [height, width], "counts": seg["counts"].encode("ascii")}
        else:
            raise RecordError(
                path,
                f"{where}: expected a segmentation (polygons or RLE), got {seg!r:.80} "
                "(pass mask_key=None to read boxes only)",
            )
        return coco_mask.decode(rle).astype(np.uint8)
    except (ValueError, TypeError, UnicodeEncodeError) as err:
        raise RecordError(path, f"{where}: unreadable segmentation ({err})") from err


def rows_from_coco(
    split_to_annotations: Mapping[str, tuple[str | os.PathLike, str | os.PathLike]],
    *,
    image_key: str = "image",
    objects_key: str = "objects",
    labels_key: str | None = "labels",
    mask_key: str | None = "mask",
    skip_crowd: bool = True,
    box_tolerance_px: float = 1.0,
) -> CocoSource:
    """Reads COCO annotation files (one per split) into rows; masks are made when a row is read.

    Args:
      split_to_annotations: split -> (annotation JSON, folder of its images).
      image_key: row key of the image path.
      objects_key: row key of ``{"boxes": ..., "labels": ...}``.
      labels_key: row key of the image's distinct category names (None: left out).
      mask_key: row key of the instance mask (None: no masks, segmentations are not read).
      skip_crowd: leave out ``iscrowd`` annotations (counted in the source).
      box_tolerance_px: pixels a box may overhang the image (clipped); more is an error.

    Raises:
      RecordError: an unreadable file, a malformed image, category or annotation (names the
        file and the annotation), splits with different categories, a box outside the image, or
        more than `MAX_INSTANCES` instances in one image's mask.
      ConfigError: a negative `box_tolerance_px`.
    """
    if not _number(box_tolerance_px) or box_tolerance_px < 0:
        raise ConfigError("box_tolerance_px", "a number of pixels >= 0", box_tolerance_px)
    categories: list[tuple[int, str]] | None = None
    listing: dict[str, tuple[Path, list[_Image]]] = {}
    boxes: dict[tuple[str, int], list[list[float]]] = {}  # checked up front, before any write
    files: dict[str, dict[str, Any]] = {}
    first = ""
    for split, (annotation_file, image_dir) in split_to_annotations.items():
        path = Path(annotation_file)
        split_categories, images, crowd = _read(path, Path(image_dir), skip_crowd)
        if categories is None:
            categories, first = split_categories, split
        elif split_categories != categories:
            raise RecordError(
                path,
                f"split {split!r} has categories {split_categories}, split {first!r} has {categories}",
            )
        for image in images:
            if not image.file.is_file():
                raise RecordError(path, f"image {image.id}: no such file {image.file}")
            if mask_key is not None and len(image.annotations) > MAX_INSTANCES:
                raise RecordError(
                    path,
                    f"image {image.id}: {len(image.annotations)} instances, a uint8 mask holds {MAX_INSTANCES}",
                )
            boxes[split, image.id] = [
                _box(path, image, a, box_tolerance_px) for a in image.annotations
            ]
        listing[split] = (path, images)
        size, sha = file_sha256(path)
        files[split] = {
            "file": str(path.resolve()),
            "bytes": size,
            "sha256": sha,
            "image_dir": str(Path(image_dir).resolve()),
            "images": len(images),
            "annotations": sum(len(i.annotations) for i in images),
            "crowd_skipped": crowd,
        }
    id_to_name = dict(categories or [])

    def rows_gen(split: str) -> Iterator[dict[str, Any]]:
        if split not in listing:
            raise ConfigError("split", f"one of {list(listing)}", split)
        path, images = listing[split]
        for image in images:
            labels = [id_to_name[ann["category_id"]] for ann in image.annotations]
            row: dict[str, Any] = {
                image_key: str(image.file),
                objects_key: {"boxes": boxes[split, image.id], "labels": labels},
                "image_id": image.id,
            }
            if labels_key is not None:
                row[labels_key] = sorted(set(labels))
            if mask_key is not None:
                mask = np.zeros((image.height, image.width), np.uint8)
                for index, ann in enumerate(image.annotations):
                    mask[_instance_mask(path, image, ann) > 0] = index + 1
                row[mask_key] = mask
            yield row

    source = {
        "type": "coco",
        "splits": files,
        "category_names": [name for _, name in categories or []],
        "category_ids": [i for i, _ in categories or []],
        "skip_crowd": skip_crowd,
        "box_tolerance_px": box_tolerance_px,
        "mask": MASK_RULE if mask_key is not None else None,
    }
    sizes = {split: len(images) for split, (_path, images) in listing.items() if images}
    return CocoSource(
        rows_gen, sizes, source, category_names=tuple(name for _, name in categories or [])
    )
