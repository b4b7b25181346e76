"""Shapes to masks and masks to polygons.

Rasterisation follows labelme (``labelme.utils.shape_to_mask``) pixel for pixel: PIL draws the polygon
with its outline, so a pixel whose centre lies on the boundary is inside. Shapes without area (point,
line, linestrip, points) are *ignored* by default (``thin="ignore"``) because they do not outline an
object; ``thin="rasterise"`` draws them as labelme does (lines 10 px wide, points as discs of radius 5).

Masks to polygons (``mask_to_polygons``) traces pixel-centre contours with OpenCV and simplifies them
with ``cv2.approxPolyDP`` at ``tolerance`` pixels (0 keeps every corner). labelme polygons cannot hold
holes or several parts, so the caller picks a policy:

* ``"largest"``: the outer boundary of the largest part; holes are filled, other parts dropped.
* ``"all"``: the outer boundary of every part, largest first; holes are filled.
* ``"holes"``: every part's outer boundary followed by its holes. Outer rings have positive signed
  area (:func:`signed_area`), holes negative; :func:`polygons_to_mask` subtracts the negative ones.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from core.annotation.schema import Shape
from core.errors import AnnotationError, InputError

__all__ = [
    "AREA_SHAPE_TYPES",
    "Instance",
    "PolygonPolicy",
    "ThinPolicy",
    "instance_masks",
    "mask_iou",
    "mask_to_polygons",
    "polygons_to_mask",
    "shape_to_mask",
    "shapes_to_label_map",
    "shapes_to_mask",
    "signed_area",
]

PolygonPolicy = Literal["largest", "all", "holes"]
ThinPolicy = Literal["ignore", "rasterise"]
AREA_SHAPE_TYPES = ("polygon", "rectangle", "circle", "mask", "oriented_rectangle", "rotation")
_LINE_WIDTH = 10
_POINT_RADIUS = 5


@dataclass
class Instance:
    """One object: the union of the shapes sharing a label and a (non-null) group id."""

    label: str
    group_id: int | None
    mask: NDArray[np.bool_]  # (H, W)
    shape_indices: list[int]


def _check_size(height: int, width: int) -> None:
    if height <= 0 or width <= 0:
        raise InputError(f"mask size must be positive, got height={height} width={width}")


def shape_to_mask(shape: Shape, height: int, width: int, *, thin: ThinPolicy = "ignore") -> NDArray[np.bool_]:
    """Rasterise one shape into an (H, W) boolean mask, as labelme does.

    Args:
        shape: the shape; points are XY pixels.
        height: image height.
        width: image width.
        thin: ``"ignore"`` gives an empty mask for point/line/linestrip/points; ``"rasterise"`` draws them.

    Raises:
        AnnotationError: too few points for the shape type.
    """
    import PIL.Image
    import PIL.ImageDraw

    _check_size(height, width)
    st = shape.shape_type
    if st not in AREA_SHAPE_TYPES and thin == "ignore":
        return np.zeros((height, width), dtype=bool)
    if st == "mask":
        out = np.zeros((height, width), dtype=bool)
        if shape.mask is None:
            raise AnnotationError(f"mask shape {shape.label!r} has no mask data", field="mask")
        (x1, y1), (x2, y2) = np.asarray(shape.points[:2]).astype(int)
        sub = shape.mask[: max(0, y2 - y1 + 1), : max(0, x2 - x1 + 1)]
        # clip the box to the image, as numpy slicing in labelme does
        ys, xs = slice(max(y1, 0), y1 + sub.shape[0]), slice(max(x1, 0), x1 + sub.shape[1])
        region = out[ys, xs]
        region |= sub[
            ys.start - y1 : ys.start - y1 + region.shape[0], xs.start - x1 : xs.start - x1 + region.shape[1]
        ]
        return out
    img = PIL.Image.new("L", (width, height), 0)
    draw = PIL.ImageDraw.Draw(img)
    xy = [(float(p[0]), float(p[1])) for p in shape.points]
    need = {"rectangle": 2, "circle": 2, "line": 2, "point": 1, "polygon": 3, "linestrip": 2}
    if len(xy) < need.get(st, 1):
        raise AnnotationError(
            f"a {st} needs at least {need[st]} points, {shape.label!r} has {len(xy)}", field="points"
        )
    if st == "rectangle":
        xs_, ys_ = [p[0] for p in xy], [p[1] for p in xy]
        draw.rectangle(((min(xs_), min(ys_)), (max(xs_), max(ys_))), outline=1, fill=1)
    elif st == "circle":
        (cx, cy), (px, py) = xy[:2]
        d = math.hypot(cx - px, cy - py)
        draw.ellipse(((cx - d, cy - d), (cx + d, cy + d)), outline=1, fill=1)
    elif st in ("line", "linestrip"):
        draw.line(xy=xy, fill=1, width=_LINE_WIDTH)
    elif st in ("point", "points"):
        for cx, cy in xy:
            draw.ellipse(
                ((cx - _POINT_RADIUS, cy - _POINT_RADIUS), (cx + _POINT_RADIUS, cy + _POINT_RADIUS)),
                outline=1,
                fill=1,
            )
    else:  # polygon, oriented_rectangle, rotation
        draw.polygon(xy=xy, outline=1, fill=1)
    return np.asarray(img, dtype=bool)


def shapes_to_mask(
    shapes: Sequence[Shape], height: int, width: int, label: str | None = None, *, thin: ThinPolicy = "ignore"
) -> NDArray[np.bool_]:
    """The union of ``shapes`` (only those labelled ``label`` when given) as an (H, W) boolean mask."""
    _check_size(height, width)
    out = np.zeros((height, width), dtype=bool)
    for s in shapes:
        if label is None or s.label == label:
            out |= shape_to_mask(s, height, width, thin=thin)
    return out


def instance_masks(
    shapes: Sequence[Shape], height: int, width: int, *, thin: ThinPolicy = "ignore"
) -> list[Instance]:
    """One mask per object, in first-appearance order.

    Shapes with the same label and the same non-null ``group_id`` are one object (their union); a shape
    with ``group_id`` null is an object of its own. Ignored thin shapes yield no instance.
    """
    out: list[Instance] = []
    by_key: dict[tuple[str, int], Instance] = {}
    for i, s in enumerate(shapes):
        if s.shape_type not in AREA_SHAPE_TYPES and thin == "ignore":
            continue
        m = shape_to_mask(s, height, width, thin=thin)
        if s.group_id is not None and (s.label, s.group_id) in by_key:
            inst = by_key[(s.label, s.group_id)]
            inst.mask |= m
            inst.shape_indices.append(i)
            continue
        inst = Instance(label=s.label, group_id=s.group_id, mask=m, shape_indices=[i])
        out.append(inst)
        if s.group_id is not None:
            by_key[(s.label, s.group_id)] = inst
    return out


def shapes_to_label_map(
    shapes: Sequence[Shape],
    height: int,
    width: int,
    class_ids: Mapping[str, int],
    *,
    thin: ThinPolicy = "ignore",
) -> NDArray[np.int32]:
    """An (H, W) class-id map, later shapes painting over earlier ones (labelme2voc's convention).

    Raises:
        AnnotationError: a shape's label is not in ``class_ids`` (the message lists the known ones).
    """
    _check_size(height, width)
    out = np.zeros((height, width), dtype=np.int32)
    for i, s in enumerate(shapes):
        if s.label not in class_ids:
            raise AnnotationError(
                f"label {s.label!r} is not in the class list ({', '.join(class_ids)})",
                field=f"shapes[{i}].label",
            )
        out[shape_to_mask(s, height, width, thin=thin)] = class_ids[s.label]
    return out


def signed_area(polygon: Sequence[Sequence[float]]) -> float:
    """Shoelace area in image XY (y down): positive for an outer ring from mask_to_polygons, negative for a hole."""
    p = np.asarray(polygon, dtype=np.float64).reshape(-1, 2)
    x, y = p[:, 0], p[:, 1]
    return float(0.5 * (np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))


def _ring(contour: NDArray[Any], tolerance: float, hole: bool) -> list[list[float]]:
    import cv2

    c = cv2.approxPolyDP(contour, tolerance, True) if tolerance > 0 else contour
    pts: NDArray[np.float64] = np.asarray(c, dtype=np.float64).reshape(-1, 2)
    if len(pts) < 3:  # a one-pixel-wide part: use the pixel box so labelme still gets a polygon
        x0, y0 = contour.reshape(-1, 2).min(0)
        x1, y1 = contour.reshape(-1, 2).max(0)
        pts = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], dtype=np.float64)
    ring = pts.tolist()
    if (signed_area(ring) < 0) != hole:
        ring.reverse()
    return ring


def mask_to_polygons(
    mask: NDArray[np.bool_], policy: PolygonPolicy = "largest", tolerance: float = 1.0
) -> list[list[list[float]]]:
    """Polygons ``[[[x, y], ...], ...]`` (pixel centres) outlining a boolean mask.

    Args:
        mask: (H, W) boolean.
        policy: ``"largest"``, ``"all"`` or ``"holes"`` (see the module docstring).
        tolerance: largest distance in pixels between the simplified polygon and the traced boundary
            (``cv2.approxPolyDP`` epsilon); 0 keeps every boundary corner.

    Returns:
        The polygons; empty for an empty mask.

    Raises:
        InputError: mask not 2-D, unknown policy or negative tolerance.
    """
    import cv2

    mask = np.asarray(mask)
    if mask.ndim != 2:
        raise InputError(f"mask must be 2-D (H, W), got shape {mask.shape}")
    if policy not in ("largest", "all", "holes"):
        raise InputError(f"unknown polygon policy {policy!r}; valid: largest, all, holes")
    if tolerance < 0:
        raise InputError(f"tolerance must be >= 0 pixels, got {tolerance}")
    m = np.ascontiguousarray(mask.astype(np.uint8))
    if not m.any():
        return []
    mode = cv2.RETR_CCOMP if policy == "holes" else cv2.RETR_EXTERNAL
    contours, hierarchy = cv2.findContours(m, mode, cv2.CHAIN_APPROX_SIMPLE)
    hier = hierarchy.reshape(-1, 4)
    outers = [i for i in range(len(contours)) if hier[i][3] < 0]
    # pixel count of each part (outer contour area under-counts by the half-pixel border)
    outers.sort(key=lambda i: -(cv2.contourArea(contours[i]) + cv2.arcLength(contours[i], True) / 2))
    if policy == "largest":
        outers = outers[:1]
    out: list[list[list[float]]] = []
    for i in outers:
        out.append(_ring(contours[i], tolerance, hole=False))
        if policy == "holes":
            child = hier[i][2]
            while child >= 0:
                out.append(_ring(contours[child], tolerance, hole=True))
                child = hier[child][0]
    return out


def polygons_to_mask(
    polygons: Sequence[Sequence[Sequence[float]]], height: int, width: int
) -> NDArray[np.bool_]:
    """Rasterise polygons from :func:`mask_to_polygons`: positive rings add, negative rings (holes) cut.

    A hole's boundary pixels belong to the object (they are pixel centres of the object's border), so
    only its interior is removed.
    """
    import PIL.Image
    import PIL.ImageDraw

    _check_size(height, width)
    out = np.zeros((height, width), dtype=bool)
    for poly in polygons:
        img = PIL.Image.new("L", (width, height), 0)
        draw = PIL.ImageDraw.Draw(img)
        xy = [(float(p[0]), float(p[1])) for p in poly]
        if signed_area(poly) >= 0:
            draw.polygon(xy=xy, outline=1, fill=1)
            out |= np.asarray(img, dtype=bool)
        else:
            draw.polygon(xy=xy, fill=1)
            inside = np.asarray(img, dtype=bool)
            img2 = PIL.Image.new("L", (width, height), 0)
            PIL.ImageDraw.Draw(img2).line(xy=[*xy, xy[0]], fill=1, width=1)
            out &= ~(inside & ~np.asarray(img2, dtype=bool))
    return out


def mask_iou(a: NDArray[np.bool_], b: NDArray[np.bool_]) -> float:
    """Intersection over union of two boolean masks of the same shape (1.0 when both are empty)."""
    if a.shape != b.shape:
        raise InputError(f"masks differ in shape: {a.shape} vs {b.shape}")
    union = np.logical_or(a, b).sum()
    return 1.0 if union == 0 else float(np.logical_and(a, b).sum() / union)
