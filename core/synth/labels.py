"""Ground truth of a studio photo as labelme JSON (labelme 5.x format, read by labelme 6.3.1).

Where things are stored: polygons are shapes labelled ``screw`` (``group_id`` 1) and ``coin``; the
SKU id and attribute values are the screw shape's ``attributes`` dict (X-AnyLabeling style: keys
head, finish, tip, thread, sku, length_mm, diameter_mm), not labelme flags; image-level truth is
the top-level key ``fvw`` (see :func:`core.synth.render.render_photo`).
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from core.errors import AnnotationError
from core.synth.render import SynthPhoto

__all__ = ["to_labelme", "write_label_json"]


def to_labelme(photo: SynthPhoto, image_name: str) -> dict[str, Any]:
    """The labelme dict of ``photo`` whose image file is ``image_name`` (beside the JSON)."""
    shapes: list[dict[str, Any]] = []
    if photo.screw_polygon is not None and photo.sku is not None:
        sku = photo.sku
        shapes.append(
            {
                "label": "screw",
                "points": [[round(float(x), 2), round(float(y), 2)] for x, y in photo.screw_polygon],
                "group_id": 1,
                "description": sku.name,
                "shape_type": "polygon",
                "flags": {},
                "mask": None,
                "attributes": {
                    **sku.attributes(),
                    "sku": sku.id,
                    "length_mm": sku.length_mm,
                    "diameter_mm": sku.diameter_mm,
                },
            }
        )
    if photo.coin_polygon is not None:
        shapes.append(
            {
                "label": "coin",
                "points": [[round(float(x), 2), round(float(y), 2)] for x, y in photo.coin_polygon],
                "group_id": None,
                "description": photo.meta["coin"]["type"],
                "shape_type": "polygon",
                "flags": {},
                "mask": None,
            }
        )
    h, w = photo.image.shape[:2]
    return {
        "version": "5.5.0",
        "flags": {},
        "shapes": shapes,
        "imagePath": image_name,
        "imageData": None,
        "imageHeight": h,
        "imageWidth": w,
        "fvw": photo.meta,
    }


def write_label_json(path: str | Path, label: dict[str, Any]) -> Path:
    """Write a labelme dict atomically through ``core.annotation.save_label_file``.

    The one place that writes studio labels. Falls back to a local atomic ``json.dump`` (same
    format) only when the annotation layer cannot be imported.

    Raises:
        AnnotationError: the write failed; a previous file at ``path`` is left intact.
    """
    path = Path(path)
    try:
        from core.annotation import LabelFile, Shape, save_label_file
    except ImportError:
        return _write_json_fallback(path, label)
    known = {"label", "points", "shape_type", "group_id", "flags", "description", "mask"}
    shapes = [
        Shape(
            label=s["label"],
            points=s["points"],
            shape_type=s["shape_type"],
            group_id=s["group_id"],
            flags=s["flags"],
            description=s["description"],
            extra={k: v for k, v in s.items() if k not in known},
        )
        for s in label["shapes"]
    ]
    reserved = {"version", "flags", "shapes", "imagePath", "imageData", "imageHeight", "imageWidth"}
    save_label_file(
        path,
        LabelFile(
            shapes=shapes,
            image_path=label["imagePath"],
            image_height=label["imageHeight"],
            image_width=label["imageWidth"],
            flags=label["flags"],
            version=label["version"],
            extra={k: v for k, v in label.items() if k not in reserved},
        ),
    )
    return path


def _write_json_fallback(path: Path, label: dict[str, Any]) -> Path:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}-", suffix=".json", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(label, f, indent=1)
        os.replace(tmp, path)
    except OSError as e:
        raise AnnotationError(f"writing failed, the previous file is unchanged ({e})", path=path) from e
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path
