"""Canonical head-up view of one screw and its head / body / tip crops with the background removed."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

from core.pose.geometry import rotation_to_head_up

__all__ = ["CanonicalScrew", "canonicalize", "split_parts", "row_widths", "upside_down"]


@dataclass(frozen=True)
class CanonicalScrew:
    """One screw rotated head-up on a tight canvas.

    Attributes:
        image: (h, w, 4) uint8 RGBA, alpha = mask (background removed).
        mask: (h, w) bool.
        head: RGBA crop of the head rows.
        body: RGBA crop of the shank rows.
        tip: RGBA crop of the tip rows.
        head_rows: (start, stop) row range of the head in ``mask``; same for ``body_rows``, ``tip_rows``.
    """

    image: NDArray[np.uint8]
    mask: NDArray[np.bool_]
    head: NDArray[np.uint8]
    body: NDArray[np.uint8]
    tip: NDArray[np.uint8]
    head_rows: tuple[int, int]
    body_rows: tuple[int, int]
    tip_rows: tuple[int, int]


def row_widths(mask: NDArray[np.bool_]) -> NDArray[np.int64]:
    """Mask pixels per row, (h,)."""
    return mask.sum(axis=1).astype(np.int64)


def _trim(mask: NDArray[np.bool_]) -> tuple[slice, slice]:
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        return slice(0, 0), slice(0, 0)
    return slice(int(rows[0]), int(rows[-1]) + 1), slice(int(cols[0]), int(cols[-1]) + 1)


def split_parts(mask: NDArray[np.bool_]) -> tuple[tuple[int, int], tuple[int, int], tuple[int, int]]:
    """Row ranges (head, body, tip) of a head-up canonical mask.

    The head ends at the first row (from the top) no wider than 1.2x the shank width (median width of the
    rows between 40 % and 80 % of the length) that comes after a row wider than that (the rounded top of
    a dome head is narrower than the shank and is still head); the tip starts at the last row from the
    bottom that is at least 0.8x the shank width. Each part keeps at least one row when the mask has three
    or more rows.
    """
    w = row_widths(mask)
    rows = np.flatnonzero(w > 0)
    if rows.size < 3:
        n = int(mask.shape[0])
        return (0, n), (n, n), (n, n)
    top, bottom = int(rows[0]), int(rows[-1]) + 1
    n = bottom - top
    shank = float(np.median(w[top + int(0.4 * n) : top + max(int(0.8 * n), int(0.4 * n) + 1)]))
    head_end = top + 1
    wide = np.flatnonzero(w[top : top + max(n // 2, 1)] > 1.2 * shank)
    if wide.size:  # headless screws (grub, trim) keep a one-row head
        for r in range(top + int(wide[0]) + 1, bottom):
            if w[r] <= 1.2 * shank:
                head_end = r
                break
    tip_start = bottom - 1
    for r in range(bottom - 1, head_end, -1):
        if w[r] >= 0.8 * shank:
            tip_start = r + 1
            break
    tip_start = min(max(tip_start, head_end + 1), bottom - 1)
    return (top, head_end), (head_end, tip_start), (tip_start, bottom)


def canonicalize(
    image: NDArray[np.uint8],
    mask: NDArray[np.bool_],
    center: tuple[float, float],
    angle_deg: float,
    length_px: float,
    pad: int = 4,
) -> CanonicalScrew:
    """Rotate one screw head-up and cut it out.

    Args:
        image: (H, W, 3) uint8 RGB photo.
        mask: (H, W) bool mask of this screw only.
        center: (x, y) screw centre in the photo.
        angle_deg: tip -> head direction (clockwise from image-up).
        length_px: screw length, sets the canvas size (the canvas is a square of side length + 2 * pad).
        pad: margin in pixels.
    """
    side = int(np.ceil(length_px * 1.05)) + 2 * pad
    mat = rotation_to_head_up(center, angle_deg, (side, side))
    rgb = cv2.warpAffine(image, mat, (side, side), flags=cv2.INTER_LINEAR, borderValue=(0, 0, 0))
    m = cv2.warpAffine(mask.astype(np.float32), mat, (side, side), flags=cv2.INTER_LINEAR) > 0.5
    rs, cs = _trim(m)
    m = m[rs, cs]
    rgba = np.dstack([rgb[rs, cs], (m * 255).astype(np.uint8)])
    rgba[~m, :3] = 0
    head, body, tip = split_parts(m)
    return CanonicalScrew(
        image=rgba,  # type: ignore
        mask=m,
        head=rgba[head[0] : head[1]],  # type: ignore
        body=rgba[body[0] : body[1]],  # type: ignore
        tip=rgba[tip[0] : tip[1]],  # type: ignore
        head_rows=head,
        body_rows=body,
        tip_rows=tip,
    )


def upside_down(screw: CanonicalScrew) -> CanonicalScrew:
    """The same canonical screw turned by 180 degrees (the other end up), its parts split again: what the
    classifiers would read had the pose put the head at the other end."""
    rgba = np.ascontiguousarray(screw.image[::-1, ::-1])
    m = np.ascontiguousarray(screw.mask[::-1, ::-1])
    head, body, tip = split_parts(m)
    return CanonicalScrew(
        image=rgba,
        mask=m,
        head=rgba[head[0] : head[1]],
        body=rgba[body[0] : body[1]],
        tip=rgba[tip[0] : tip[1]],
        head_rows=head,
        body_rows=body,
        tip_rows=tip,
    )
