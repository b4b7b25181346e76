"""The two non-part inputs of the whole-photo / box / parts ablation (issue 5, the seed's study).

==========  ==========================================================  ============
view        input                                                       size (H x W)
==========  ==========================================================  ============
photo       the whole photo, resized (aspect 4:3 kept)                  96 x 128
box         the screw's axis-aligned box (+8 % margin), background      96 x 96
            kept, letterboxed on black, not rotated
==========  ==========================================================  ============

The third arm, the part crops, is what production uses (:func:`core.attributes.data.crops_from_canonical`).
"""

from __future__ import annotations

import cv2
import numpy as np
from numpy.typing import NDArray

from core.errors import InputError

__all__ = ["VIEW_SIZE", "photo_view", "box_view", "ablation_views"]

VIEW_SIZE: dict[str, tuple[int, int]] = {"photo": (96, 128), "box": (96, 96)}


def photo_view(image: NDArray[np.uint8], size: tuple[int, int] = VIEW_SIZE["photo"]) -> NDArray[np.uint8]:
    """The whole (H, W, 3) uint8 RGB photo resized to ``size`` (H, W), area interpolation."""
    if image.ndim != 3 or image.shape[2] != 3 or image.shape[0] < 2 or image.shape[1] < 2:
        raise InputError(f"expected an (H, W, 3) RGB photo, got shape {image.shape}")
    return np.asarray(cv2.resize(image, (size[1], size[0]), interpolation=cv2.INTER_AREA), np.uint8)


def box_view(
    image: NDArray[np.uint8],
    mask: NDArray[np.bool_],
    size: tuple[int, int] = VIEW_SIZE["box"],
    margin: float = 0.08,
) -> NDArray[np.uint8]:
    """The screw's axis-aligned bounding box (background kept), letterboxed to ``size``.

    Args:
        image: (H, W, 3) uint8 RGB photo.
        mask: (H, W) bool mask of the screw.
        size: (H, W) of the output.
        margin: extra border as a fraction of the box's longer side.
    """
    from core.attributes.data import letterbox

    if mask.shape != image.shape[:2]:
        raise InputError(f"mask shape {mask.shape} does not match the photo {image.shape[:2]}")
    ys, xs = np.nonzero(mask)
    if ys.size == 0:
        raise InputError("the screw mask is empty: no box to crop")
    y0, y1, x0, x1 = int(ys.min()), int(ys.max()) + 1, int(xs.min()), int(xs.max()) + 1
    pad = int(round(margin * max(y1 - y0, x1 - x0)))
    h, w = mask.shape
    crop = image[max(0, y0 - pad) : min(h, y1 + pad), max(0, x0 - pad) : min(w, x1 + pad)]
    return letterbox(crop, size)


def ablation_views(image: NDArray[np.uint8], mask: NDArray[np.bool_]) -> dict[str, NDArray[np.uint8]]:
    """``{"photo": ..., "box": ...}`` for one screw (sizes in :data:`VIEW_SIZE`)."""
    return {"photo": photo_view(image), "box": box_view(image, mask)}
