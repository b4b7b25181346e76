"""Coin circle fit -> pixels per millimetre.

The fit is a least-squares (Kasa) circle through the coin's outer contour, with contour points lying on
the image border left out (a coin cut by the border still fits). ``cv2.minEnclosingCircle`` is the
fallback when too few points remain. The contour runs through boundary pixel centres, half a pixel
inside the true edge, so 0.5 px is added to the fitted radius.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

from core.catalog.coins import COINS, DEFAULT_COIN
from core.errors import ConfigError, NoCoinFoundError

__all__ = [
    "COIN_DIAMETERS_MM",
    "DEFAULT_COIN",
    "CircleFit",
    "CoinScale",
    "fit_circle",
    "kasa_fit",
    "coin_scale",
]

#: Official diameters of common reference coins, in millimetres (one table: core.catalog.coins).
COIN_DIAMETERS_MM = COINS


@dataclass(frozen=True)
class CircleFit:
    """A fitted circle: centre (x, y) and radius in pixels, RMS residual of the contour points in pixels."""

    cx: float
    cy: float
    r: float
    residual_rms: float
    n_points: int
    method: str


@dataclass(frozen=True)
class CoinScale:
    """Image scale from a coin of known diameter."""

    circle: CircleFit
    coin: str
    diameter_mm: float
    px_per_mm: float
    px_per_mm_std: float


def kasa_fit(points: NDArray[np.float64]) -> tuple[float, float, float, float]:
    """Algebraic least-squares circle through (N, 2) XY points -> (cx, cy, r, rms residual)."""
    x, y = points[:, 0], points[:, 1]
    a = np.column_stack([x, y, np.ones_like(x)])
    b = -(x**2 + y**2)
    (d, e, f), *_ = np.linalg.lstsq(a, b, rcond=None)
    cx, cy = -d / 2.0, -e / 2.0
    r = math.sqrt(max(cx**2 + cy**2 - f, 0.0))
    rms = float(np.sqrt(np.mean((np.hypot(x - cx, y - cy) - r) ** 2)))
    return float(cx), float(cy), r, rms


def fit_circle(mask: NDArray[np.bool_], min_points: int = 12) -> CircleFit:
    """Fit a circle to the largest blob of a coin mask.

    Raises:
        NoCoinFoundError: the mask is empty.
    """
    m = mask.astype(np.uint8)
    contours, _ = cv2.findContours(m, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    if not contours:
        raise NoCoinFoundError("no coin found: put a coin flat beside the screw to measure it in millimetres")
    cnt = max(contours, key=cv2.contourArea)
    pts = cnt.reshape(-1, 2).astype(np.float64)
    h, w = m.shape
    inside = (pts[:, 0] > 0) & (pts[:, 0] < w - 1) & (pts[:, 1] > 0) & (pts[:, 1] < h - 1)
    if int(inside.sum()) >= min_points:
        cx, cy, r, rms = kasa_fit(pts[inside])
        return CircleFit(cx, cy, r + 0.5, rms, int(inside.sum()), "kasa")
    (cx, cy), r = cv2.minEnclosingCircle(cnt)
    return CircleFit(float(cx), float(cy), float(r) + 0.5, float("nan"), len(pts), "min_enclosing")


def coin_scale(
    mask: NDArray[np.bool_], coin: str = DEFAULT_COIN, diameter_mm: float | None = None
) -> CoinScale:
    """Pixels per millimetre from a coin mask.

    Args:
        mask: (H, W) bool coin mask.
        coin: a key of :data:`COIN_DIAMETERS_MM` (ignored when ``diameter_mm`` is given).
        diameter_mm: explicit coin diameter.

    Raises:
        ConfigError: unknown coin name.
        NoCoinFoundError: empty mask.
    """
    if diameter_mm is None:
        if coin not in COIN_DIAMETERS_MM:
            raise ConfigError(
                f"unknown coin {coin!r}; choose one of {sorted(COIN_DIAMETERS_MM)}", field="coin"
            )
        diameter_mm = COIN_DIAMETERS_MM[coin]
    fit = fit_circle(mask)
    # Radius uncertainty: fit noise (rms / sqrt(N)) plus 0.25 px for the half-pixel edge correction.
    rms = fit.residual_rms if math.isfinite(fit.residual_rms) else 1.0
    sigma_r = math.sqrt(rms**2 / max(fit.n_points, 1) + 0.25**2)
    ppm = 2.0 * fit.r / diameter_mm
    return CoinScale(fit, coin, diameter_mm, ppm, 2.0 * sigma_r / diameter_mm)
