"""Drawing objects into a float image: anti-aliased polygon coverage, soft shadows, compositing."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

__all__ = ["Sprite", "rasterise", "cast_shadow", "composite", "full_alpha"]

ColourFn = Callable[[NDArray[np.float32], NDArray[np.float32]], NDArray[np.float32]]
_SHIFT = 4  # sub-pixel bits for cv2.fillPoly
_SS = 4  # supersampling factor of the coverage


@dataclass
class Sprite:
    """An object's coverage in its bounding box: alpha (h, w) float32 in [0, 1] at offset (x0, y0)."""

    x0: int
    y0: int
    alpha: NDArray[np.float32]


def rasterise(polys: list[NDArray[np.float64]], h: int, w: int) -> Sprite | None:
    """Area coverage of polygons (XY px, integer = pixel centre), 4x4 supersampled; overlapping parts
    cancel (even-odd), so an inner contour cuts a hole. Returns None when entirely outside the image."""
    allp = np.concatenate(polys)
    x0, y0 = max(int(np.floor(allp[:, 0].min())) - 2, 0), max(int(np.floor(allp[:, 1].min())) - 2, 0)
    x1, y1 = min(int(np.ceil(allp[:, 0].max())) + 3, w), min(int(np.ceil(allp[:, 1].max())) + 3, h)
    if x1 <= x0 or y1 <= y0:
        return None
    # Coverage by supersampling at sub-pixel centres: cv2's LINE_AA fill would grow the shape by about
    # half a pixel, and the polygon written as ground truth must match the drawn pixels.
    k = _SS
    a = np.zeros(((y1 - y0) * k, (x1 - x0) * k), np.uint8)
    pts = [np.round((((p - [x0, y0]) + 0.5) * k - 0.5) * (1 << _SHIFT)).astype(np.int32) for p in polys]
    cv2.fillPoly(a, pts, 255, cv2.LINE_8, shift=_SHIFT)
    cov = cv2.resize(a, (x1 - x0, y1 - y0), interpolation=cv2.INTER_AREA)
    return Sprite(x0, y0, cov.astype(np.float32) / 255.0)


def cast_shadow(
    img: NDArray[np.float32], sp: Sprite, dx: float, dy: float, sigma: float, strength: float
) -> None:
    """Darken ``img`` in place under a blurred, shifted copy of the sprite's coverage."""
    h, w = img.shape[:2]
    pad = int(3 * sigma + abs(dx) + abs(dy)) + 2
    sh, sw = sp.alpha.shape
    big = np.zeros((sh + 2 * pad, sw + 2 * pad), np.float32)
    oy, ox = pad + int(round(dy)), pad + int(round(dx))
    big[oy : oy + sh, ox : ox + sw] = sp.alpha
    blurred = np.asarray(cv2.GaussianBlur(big, (0, 0), max(sigma, 0.5)), np.float32)
    gy0, gx0 = sp.y0 - pad, sp.x0 - pad
    cy0, cx0, cy1, cx1 = max(gy0, 0), max(gx0, 0), min(gy0 + big.shape[0], h), min(gx0 + big.shape[1], w)
    if cy1 <= cy0 or cx1 <= cx0:
        return
    part = blurred[cy0 - gy0 : cy1 - gy0, cx0 - gx0 : cx1 - gx0]
    img[cy0:cy1, cx0:cx1] *= (1.0 - strength * part)[..., None]


def composite(img: NDArray[np.float32], sp: Sprite, colour: ColourFn) -> None:
    """Blend the object into ``img`` in place; ``colour(xs, ys)`` gives (N, 3) at pixel centres."""
    ys, xs = np.nonzero(sp.alpha > 0)
    if ys.size == 0:
        return
    a = sp.alpha[ys, xs][:, None]
    gx, gy = xs + sp.x0, ys + sp.y0
    col = colour(gx.astype(np.float32), gy.astype(np.float32))
    img[gy, gx] = img[gy, gx] * (1.0 - a) + col * a


def full_alpha(sp: Sprite | None, h: int, w: int) -> NDArray[np.float32]:
    """The sprite's coverage as a full (H, W) float32 frame."""
    out = np.zeros((h, w), np.float32)
    if sp is not None:
        sh, sw = sp.alpha.shape
        out[sp.y0 : sp.y0 + sh, sp.x0 : sp.x0 + sw] = sp.alpha
    return out
