"""Thumbnails with the label masks drawn over the photo (Datasets page, Label page preview)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

if TYPE_CHECKING:
    from core.annotation import Shape

__all__ = ["CLASS_COLOURS", "overlay", "thumbnail"]

CLASS_COLOURS: dict[str, tuple[int, int, int]] = {"screw": (255, 140, 0), "coin": (30, 144, 255)}
_OTHER = (50, 205, 50)


def overlay(
    image: NDArray[np.uint8],
    shapes: Sequence[Shape],
    *,
    alpha: float = 0.45,
    mask: NDArray[np.bool_] | None = None,
    points: Sequence[tuple[float, float, int]] = (),
) -> NDArray[np.uint8]:
    """The photo with shapes filled and outlined in their class colour.

    Args:
        image: (H, W, 3) uint8 RGB.
        shapes: :class:`core.annotation.Shape` objects in the photo's pixel grid.
        alpha: fill opacity.
        mask: an extra (H, W) mask (the object in progress), drawn in magenta.
        points: clicks ``(x, y, label)``; green for positive, red for negative.

    Returns:
        A new (H, W, 3) uint8 RGB image.
    """
    import cv2

    from core.annotation import shape_to_mask

    h, w = image.shape[:2]
    out = image.astype(np.float32)
    for s in shapes:
        colour = np.array(CLASS_COLOURS.get(s.label, _OTHER), np.float32)
        m = shape_to_mask(s, h, w)
        out[m] = (1 - alpha) * out[m] + alpha * colour
    if mask is not None and mask.any():
        out[mask] = (1 - alpha) * out[mask] + alpha * np.array((255, 0, 255), np.float32)
    res = out.clip(0, 255).astype(np.uint8)
    thick = max(1, round(max(h, w) / 400))
    for s in shapes:
        if s.shape_type == "polygon" and len(s.points) >= 3:
            pts = np.round(np.asarray(s.points, np.float32)).astype(np.int32)
            cv2.polylines(res, [pts], True, CLASS_COLOURS.get(s.label, _OTHER), thick)
    r = max(3, round(max(h, w) / 150))
    for x, y, lab in points:
        cv2.circle(res, (round(x), round(y)), r, (0, 200, 0) if lab == 1 else (220, 0, 0), -1)
        cv2.circle(res, (round(x), round(y)), r, (255, 255, 255), 1)
    return res


def thumbnail(image: NDArray[np.uint8], shapes: Sequence[Shape], size: int = 256) -> NDArray[np.uint8]:
    """:func:`overlay` shrunk so the longest side is ``size`` pixels."""
    import cv2

    over = overlay(image, shapes)
    h, w = over.shape[:2]
    scale = min(1.0, size / max(h, w))
    if scale >= 1.0:
        return over
    small = cv2.resize(
        over, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA
    )
    return np.asarray(small, dtype=np.uint8)
