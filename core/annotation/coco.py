"""COCO instance-segmentation export of a dataset folder.

Follows labelme's ``labelme2coco.py``: one annotation per object (shapes sharing label and group id),
``segmentation`` holds one polygon per shape (rectangles as 4 corners, circles as a polygon within 1 px
of the arc, masks traced with :func:`~core.annotation.masks.mask_to_polygons`), ``area`` and ``bbox``
come from the rasterised union. Points and lines have no area and are skipped (counted in the summary).
Image sizes come from ``imageHeight``/``imageWidth`` or, when missing, from the photo's header.
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from core.annotation._atomic import atomic_write_text
from core.annotation.dataset import Dataset, DatasetItem
from core.annotation.masks import AREA_SHAPE_TYPES, instance_masks, mask_to_polygons, shape_to_mask
from core.annotation.schema import Shape
from core.errors import DatasetError, FvwError, ImageReadError

__all__ = ["CocoSummary", "export_coco", "shape_to_coco_polygons"]


@dataclass
class CocoSummary:
    """What :func:`export_coco` wrote."""

    images: int = 0
    annotations: int = 0
    categories: int = 0
    skipped_shapes: int = 0
    errors: list[str] = field(default_factory=list)


def _circle_polygon(cx: float, cy: float, ex: float, ey: float) -> list[float]:
    r = math.hypot(ex - cx, ey - cy)
    # chord-to-arc deviation <= 1 px: r (1 - cos(pi / n)) <= 1
    n = 12 if r <= 1.0 else max(12, int(math.pi / math.acos(1.0 - 1.0 / r)))
    a = 2.0 * math.pi * np.arange(n) / n
    return np.stack([cx + r * np.cos(a), cy + r * np.sin(a)], axis=1).ravel().tolist()


def shape_to_coco_polygons(shape: Shape, height: int, width: int) -> list[list[float]]:
    """COCO ``segmentation`` polygons (flat ``[x1, y1, x2, y2, ...]``) for one area shape."""
    pts = shape.points
    if shape.shape_type == "rectangle":
        xs, ys = [p[0] for p in pts], [p[1] for p in pts]
        x1, x2, y1, y2 = min(xs), max(xs), min(ys), max(ys)
        return [[x1, y1, x2, y1, x2, y2, x1, y2]]
    if shape.shape_type == "circle":
        return [_circle_polygon(pts[0][0], pts[0][1], pts[1][0], pts[1][1])]
    if shape.shape_type == "mask":
        m = shape_to_mask(shape, height, width)
        return [np.asarray(p).ravel().tolist() for p in mask_to_polygons(m, policy="all", tolerance=0.0)]
    return [np.asarray(pts, dtype=np.float64).ravel().tolist()]


def _image_size(item: DatasetItem) -> tuple[int, int]:
    lf = item.label_file
    if lf.image_height and lf.image_width:
        return lf.image_height, lf.image_width
    import PIL.Image

    try:
        with PIL.Image.open(io.BytesIO(item.image_bytes())) as im:
            return im.height, im.width
    except OSError as e:
        raise ImageReadError(
            f"cannot read the photo's size ({e})", path=item.image_path or item.json_path
        ) from e


def export_coco(
    root: str | Path,
    out_json: str | Path,
    *,
    categories: Sequence[str] | None = None,
    skip_errors: bool = False,
) -> CocoSummary:
    """Write a COCO instances file for every labelled photo under ``root``.

    Args:
        root: the dataset folder.
        out_json: output path (written atomically).
        categories: class names in id order starting at 1; labels not listed are skipped. By default
            every label found, sorted, ids from 1. A leading ``"_background_"`` takes id 0 (labelme's
            labels.txt convention, minus ``__ignore__``).
        skip_errors: record bad files in ``summary.errors`` instead of raising.

    Raises:
        DatasetError: no labelled photo in ``root``.
        AnnotationError, PathEscapeError: a bad JSON, unless ``skip_errors``.
    """
    ds = Dataset(root)
    items: list[DatasetItem] = []
    summary = CocoSummary()
    for p in ds.json_files():
        try:
            items.append(ds.item(p))
        except FvwError as e:
            if not skip_errors:
                raise
            summary.errors.append(str(e))
    if not items:
        raise DatasetError("no labelled photo (labelme JSON) found; label some photos first", path=root)
    if categories is None:
        names = sorted({s.label for it in items for s in it.label_file.shapes})
        cat_ids = {n: i + 1 for i, n in enumerate(names)}
    else:
        names = [c for c in categories if c != "__ignore__"]
        start = 0 if names and names[0] == "_background_" else 1
        cat_ids = {n: i + start for i, n in enumerate(names)}
    images: list[dict[str, Any]] = []
    anns: list[dict[str, Any]] = []
    for image_id, it in enumerate(items):
        h, w = _image_size(it)
        src = it.image_path or it.json_path
        images.append(
            {
                "id": image_id,
                "file_name": src.relative_to(ds.root).as_posix(),
                "height": h,
                "width": w,
                "license": 0,
            }
        )
        shapes = it.label_file.shapes
        summary.skipped_shapes += sum(s.shape_type not in AREA_SHAPE_TYPES for s in shapes)
        for inst in instance_masks(shapes, h, w):
            if inst.label not in cat_ids:
                summary.skipped_shapes += len(inst.shape_indices)
                continue
            ys, xs = np.nonzero(inst.mask)
            if len(xs) == 0:
                summary.skipped_shapes += len(inst.shape_indices)
                continue
            x0, y0 = int(xs.min()), int(ys.min())
            seg = [poly for i in inst.shape_indices for poly in shape_to_coco_polygons(shapes[i], h, w)]
            anns.append(
                {
                    "id": len(anns),
                    "image_id": image_id,
                    "category_id": cat_ids[inst.label],
                    "segmentation": seg,
                    "area": float(inst.mask.sum()),
                    "bbox": [float(x0), float(y0), float(xs.max() - x0 + 1), float(ys.max() - y0 + 1)],
                    "iscrowd": 0,
                }
            )
    data = {
        "info": {"description": f"exported from {ds.root.name}"},
        "licenses": [{"id": 0, "name": None, "url": None}],
        "type": "instances",
        "images": images,
        "annotations": anns,
        "categories": [{"id": i, "name": n, "supercategory": None} for n, i in cat_ids.items()],
    }
    Path(out_json).parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(Path(out_json), json.dumps(data))
    summary.images, summary.annotations, summary.categories = len(images), len(anns), len(cat_ids)
    return summary
