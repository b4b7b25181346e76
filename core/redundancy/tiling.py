"""Tiling operations: degrade an image on its 2x2 pixel squares to probe how redundant its pixels are.

Every image is cut into 2x2 squares; inside a square the positions are numbered by (row parity, column
parity) of the pixel, ``(0, 0)`` top-left, ``(0, 1)`` top-right, ``(1, 0)`` bottom-left, ``(1, 1)``
bottom-right. A tiling method replaces some of the four positions in every square:

* ``MH``  (1/4 of the pixels): the bottom-right pixel ``(1, 1)``;
* ``CHB`` (2/4, a checkerboard): the anti-diagonal ``(0, 1)`` and ``(1, 0)``;
* ``GRI`` (3/4, a grid): every pixel but the top-left ``(0, 0)``.

The suffix says what the replaced pixels become: none = the image's mean colour (per channel, over
the whole original image), ``0`` = black, ``1`` = white. ``DN`` leaves the image unchanged. Images of
odd size are handled by parity, so the last row/column belongs to an incomplete square.
"""

from __future__ import annotations

from typing import Literal, get_args

import numpy as np
from numpy.typing import NDArray

from core.errors import ConfigError, InputError

__all__ = [
    "TilingMethod",
    "TILING_METHODS",
    "TILING_FRACTION",
    "tiling_mask",
    "apply_tiling",
    "apply_tiling_batch",
]

TilingMethod = Literal["DN", "MH", "CHB", "GRI", "MH0", "CHB0", "GRI0", "MH1", "CHB1", "GRI1"]
TILING_METHODS: tuple[str, ...] = get_args(TilingMethod)

# Positions (row parity, column parity) replaced inside each 2x2 square, by base pattern.
_REPLACED: dict[str, tuple[tuple[int, int], ...]] = {
    "DN": (),
    "MH": ((1, 1),),
    "CHB": ((0, 1), (1, 0)),
    "GRI": ((0, 1), (1, 0), (1, 1)),
}
#: Fraction of pixels each method replaces (0, 1/4, 1/2, 3/4).
TILING_FRACTION: dict[str, float] = {m: len(_REPLACED[m.rstrip("01")]) / 4 for m in TILING_METHODS}


def _check_method(method: str) -> tuple[str, str]:
    if method not in TILING_METHODS:
        raise ConfigError(
            f"unknown tiling method {method!r}; valid: {', '.join(TILING_METHODS)}", field="method"
        )
    base = method.rstrip("01")
    fill = method[len(base) :] or "mean"
    return base, fill


def tiling_mask(height: int, width: int, method: str) -> NDArray[np.bool_]:
    """Which pixels ``method`` replaces.

    Args:
        height: Image height in pixels.
        width: Image width in pixels.
        method: One of :data:`TILING_METHODS`.

    Returns:
        Boolean array (height, width), True where the pixel is replaced.
    """
    base, _ = _check_method(method)
    rows = (np.arange(height) % 2)[:, None]
    cols = (np.arange(width) % 2)[None, :]
    mask = np.zeros((height, width), dtype=bool)
    for r, c in _REPLACED[base]:
        mask |= (rows == r) & (cols == c)
    return mask


def apply_tiling(image: NDArray[np.uint8], method: str) -> NDArray[np.uint8]:
    """Degrade one image with a tiling method.

    Args:
        image: HWC uint8 RGB (or HW grayscale) array, values 0-255.
        method: One of :data:`TILING_METHODS`.

    Returns:
        A new array of the same shape and dtype; the input is not modified.
    """
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim not in (2, 3):
        raise InputError(
            "apply_tiling expects a numpy uint8 image of shape (H, W) or (H, W, C); "
            f"got {type(image).__name__} {getattr(image, 'dtype', '')} {getattr(image, 'shape', '')}",
            field="image",
        )
    return apply_tiling_batch(image[None], method)[0]


def apply_tiling_batch(images: NDArray[np.uint8], method: str) -> NDArray[np.uint8]:
    """Degrade a stack of same-sized images (N, H, W[, C]) uint8; each uses its own mean colour."""
    if images.dtype != np.uint8 or images.ndim not in (3, 4):
        raise InputError(
            f"apply_tiling_batch expects uint8 (N, H, W[, C]); got {images.dtype} {images.shape}",
            field="images",
        )
    base, fill = _check_method(method)
    out = images.copy()
    if base == "DN":
        return out
    mask = tiling_mask(images.shape[1], images.shape[2], method)  # (H, W)
    if fill == "0":
        out[:, mask] = 0
    elif fill == "1":
        out[:, mask] = 255
    else:
        # Mean of the original image (all pixels), per channel, rounded to the nearest integer.
        axes = (1, 2)
        mean = np.rint(images.astype(np.float64).mean(axis=axes)).astype(np.uint8)  # (N[, C])
        for i in range(images.shape[0]):
            out[i, mask] = mean[i]
    return out
