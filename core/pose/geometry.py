"""Screw pose from a mask: axis angle (minimum-area rectangle), head side (half areas), canonical head-up view.

Angle convention (used everywhere in the project, JSON included): ``angle_deg`` in [0, 360) is the direction
from the tip to the head, measured CLOCKWISE from image-up (-y), in the input photo's XY pixel frame. So a
screw standing head-up has 0, one lying head-right has 90. The *axis* angle is the same modulo 180.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

from core.errors import InputError, NoScrewFoundError

__all__ = [
    "AxisEstimate",
    "axis_from_mask",
    "head_side",
    "direction",
    "rotation_to_head_up",
    "largest_component",
    "symmetry_axis",
]


@dataclass(frozen=True)
class AxisEstimate:
    """Minimum-area rectangle of one screw mask.

    Attributes:
        center: (x, y) rectangle centre, pixels.
        axis_deg: long-side direction in [0, 180), clockwise from image-up.
        length_px: long side of the rectangle.
        width_px: short side of the rectangle.
        box: (4, 2) rectangle corners, XY pixels.
    """

    center: tuple[float, float]
    axis_deg: float
    length_px: float
    width_px: float
    box: NDArray[np.float32]

    @property
    def aspect(self) -> float:
        """Long / short side; near 1 means the rectangle says little about the angle."""
        return self.length_px / max(self.width_px, 1e-6)


def _check_mask(mask: NDArray[np.bool_]) -> NDArray[np.uint8]:
    if mask.ndim != 2:
        raise InputError(f"expected a 2-D mask (H, W), got shape {mask.shape}", field="mask")
    return mask.astype(np.uint8)


def largest_component(mask: NDArray[np.bool_]) -> NDArray[np.bool_]:
    """The largest 8-connected component of a mask (empty stays empty)."""
    m = _check_mask(mask)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(m, connectivity=8)
    if n <= 1:
        return m.astype(bool)
    k = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    return labels == k


def direction(angle_deg: float) -> tuple[float, float]:
    """Unit XY vector of an angle in the project convention (clockwise from image-up)."""
    a = math.radians(angle_deg)
    return math.sin(a), -math.cos(a)


def axis_from_mask(mask: NDArray[np.bool_]) -> AxisEstimate:
    """Minimum-area rectangle of the mask's largest contour.

    Raises:
        NoScrewFoundError: the mask is empty.
    """
    m = _check_mask(mask)
    contours, _ = cv2.findContours(m, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    if not contours:
        raise NoScrewFoundError(
            "no screw found: the screw mask is empty; photograph the screw on a plain background"
        )
    cnt = max(contours, key=cv2.contourArea)
    rect = cv2.minAreaRect(cnt)
    box = cv2.boxPoints(rect).astype(np.float32)  # (4, 2)
    e1 = box[1] - box[0]
    e2 = box[2] - box[1]
    n1, n2 = float(np.hypot(*e1)), float(np.hypot(*e2))
    long_edge, length, width = (e1, n1, n2) if n1 >= n2 else (e2, n2, n1)
    axis = math.degrees(math.atan2(float(long_edge[0]), float(-long_edge[1]))) % 180.0
    if length >= 1.5 * width:
        # The wide head tilts the minimum-area rectangle by a few degrees; the principal axis of the pixels
        # (second moments) lies on the screw's symmetry axis, so it refines an elongated screw's angle.
        mo = cv2.moments(m, binaryImage=True)
        if mo["m00"] > 0:
            mu20, mu02, mu11 = mo["mu20"], mo["mu02"], mo["mu11"]
            theta = 0.5 * math.atan2(2 * mu11, mu20 - mu02)  # major axis from +x, y down
            axis = math.degrees(math.atan2(math.cos(theta), -math.sin(theta))) % 180.0
    # Pixel footprint: the contour runs through pixel centres, the object extends half a pixel further.
    return AxisEstimate(
        center=(float(rect[0][0]), float(rect[0][1])),
        axis_deg=axis,
        length_px=length + 1.0,
        width_px=width + 1.0,
        box=box,
    )


def head_side(mask: NDArray[np.bool_], axis: AxisEstimate) -> tuple[float, float]:
    """Resolve the 180-degree ambiguity: the half of the mask with more area holds the head.

    Args:
        mask: (H, W) bool screw mask.
        axis: its :func:`axis_from_mask` result.

    Returns:
        (angle_deg in [0, 360) pointing tip -> head, confidence in [0, 1] = relative area difference).
    """
    ys, xs = np.nonzero(mask)
    ux, uy = direction(axis.axis_deg)
    t = (xs + 0.0 - axis.center[0]) * ux + (ys + 0.0 - axis.center[1]) * uy
    pos, neg = int((t > 0).sum()), int((t < 0).sum())
    conf = abs(pos - neg) / max(pos + neg, 1)
    angle = axis.axis_deg if pos >= neg else axis.axis_deg + 180.0
    return angle % 360.0, conf


def rotation_to_head_up(
    center: tuple[float, float], angle_deg: float, out_size: tuple[int, int]
) -> NDArray[np.float64]:
    """2x3 affine that maps the photo to a canonical canvas: screw centre at the canvas centre, head up.

    Args:
        center: (x, y) screw centre in the photo.
        angle_deg: tip -> head direction (project convention).
        out_size: (width, height) of the canonical canvas.
    """
    # OpenCV's positive angle turns the picture counter-clockwise on screen, which undoes our clockwise angle.
    mat = cv2.getRotationMatrix2D(center, angle_deg, 1.0)
    mat[0, 2] += out_size[0] / 2.0 - center[0]
    mat[1, 2] += out_size[1] / 2.0 - center[1]
    return mat  # type: ignore


def _mirror_iou(m: NDArray[np.uint8], c: tuple[float, float], axis_deg: float) -> float:
    """IoU of ``m`` with its reflection about the line through ``c`` along ``axis_deg``."""
    dx, dy = direction(axis_deg)
    r = np.array([[2 * dx * dx - 1, 2 * dx * dy], [2 * dx * dy, 2 * dy * dy - 1]])  # 2 d d^T - I
    b = np.asarray(c) - r @ np.asarray(c)
    mat = np.hstack([r, b[:, None]]).astype(np.float64)
    f = np.asarray(cv2.warpAffine(m, mat, (m.shape[1], m.shape[0]), flags=cv2.INTER_NEAREST), np.uint8)
    inter = int(np.count_nonzero(m & f))
    return inter / max(int(np.count_nonzero(m | f)), 1)


def symmetry_axis(mask: NDArray[np.bool_], step_deg: float = 2.0) -> tuple[float, float]:
    """The line a screw's silhouette is mirror-symmetric about: its axis, also where the silhouette is squat.

    A screw seen from the side is symmetric about its axis only (head and tip differ), and the centroid lies on
    that axis; the minimum-area rectangle of a short screw with a wide head is tilted off it (by 20-25 deg on
    validation photos with aspect 1.3-1.5). Every direction through the centroid is tried every ``step_deg``,
    then the best one refined to a tenth of that, scored by the IoU of the mask with its mirror image.

    Returns:
        (axis_deg in [0, 180) in the project convention, the mirror IoU there in [0, 1]).

    Raises:
        NoScrewFoundError: the mask is empty.
    """
    m = _check_mask(mask)
    ys, xs = np.nonzero(m)
    if xs.size == 0:
        raise NoScrewFoundError("no screw found: the screw mask is empty")
    # a square around the centroid holding the farthest pixel (room for the mirror image), at most 128 px
    cx, cy = float(xs.mean()), float(ys.mean())
    reach = int(math.ceil(float(np.hypot(xs - cx, ys - cy).max()))) + 2
    zoom = min(1.0, 64.0 / reach)
    size = int(math.ceil(2 * reach * zoom)) + 1
    crop = np.zeros((size, size), np.uint8)
    px = np.clip(np.round((xs - cx) * zoom + size / 2).astype(int), 0, size - 1)
    py = np.clip(np.round((ys - cy) * zoom + size / 2).astype(int), 0, size - 1)
    crop[py, px] = 1
    c = (size / 2, size / 2)
    grid = np.arange(0.0, 180.0, step_deg)
    scores = [_mirror_iou(crop, c, float(a)) for a in grid]
    best = float(grid[int(np.argmax(scores))])
    fine = best + np.linspace(-step_deg, step_deg, 21)
    fs = [_mirror_iou(crop, c, float(a)) for a in fine]
    i = int(np.argmax(fs))
    return float(fine[i] % 180.0), float(fs[i])
