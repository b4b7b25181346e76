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
    "EllipseFit",
    "fit_ellipse",
    "coin_disc",
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


@dataclass(frozen=True)
class EllipseFit:
    """A fitted ellipse: centre (x, y), semi-axes ``a`` >= ``b`` in pixels, rotation of ``a`` in degrees
    (OpenCV's convention), RMS distance of the contour points to the ellipse in pixels."""

    cx: float
    cy: float
    a: float
    b: float
    angle_deg: float
    residual_rms: float
    n_points: int


def _interior_contour(mask: NDArray[np.bool_]) -> NDArray[np.float64] | None:
    """(N, 2) XY points of the largest blob's outer contour, without those on the image border."""
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    if not contours:
        return None
    pts = max(contours, key=cv2.contourArea).reshape(-1, 2).astype(np.float64)
    h, w = mask.shape
    inside = (pts[:, 0] > 0) & (pts[:, 0] < w - 1) & (pts[:, 1] > 0) & (pts[:, 1] < h - 1)
    return pts[inside]


def fit_ellipse(mask: NDArray[np.bool_], min_points: int = 12) -> EllipseFit | None:
    """Least-squares ellipse through the contour of a coin mask (a tilted coin is an ellipse).

    Contour points on the image border are left out, so a coin cut by the border still fits. Returns None
    when fewer than ``min_points`` points remain.
    """
    pts = _interior_contour(mask)
    if pts is None or len(pts) < max(min_points, 5):
        return None
    (cx, cy), (d1, d2), ang = cv2.fitEllipse(pts.astype(np.float32))
    if not (math.isfinite(d1) and math.isfinite(d2)) or min(d1, d2) <= 0:
        return None
    a1, a2 = d1 / 2.0, d2 / 2.0  # semi-axes along the rotated x and y
    t = math.radians(ang)
    dx, dy = pts[:, 0] - cx, pts[:, 1] - cy
    u = dx * math.cos(t) + dy * math.sin(t)
    v = -dx * math.sin(t) + dy * math.cos(t)
    rho = np.sqrt((u / a1) ** 2 + (v / a2) ** 2)  # 1 on the ellipse
    # Radial distance to the ellipse, in pixels (exact for a circle, close for a near-circle).
    res = float(np.sqrt(np.mean(((rho - 1.0) * np.hypot(u, v) / np.maximum(rho, 1e-9)) ** 2)))
    a, b, rot = (a1, a2, ang) if a1 >= a2 else (a2, a1, ang + 90.0)
    return EllipseFit(float(cx), float(cy), float(a), float(b), float(rot % 180.0), res, len(pts))


def coin_disc(
    mask: NDArray[np.bool_], max_residual_px: float = 1.0, max_eccentricity: float = 0.6
) -> NDArray[np.bool_] | None:
    """The coin's mask redrawn as its fitted ellipse, or None when the blob does not look like a coin.

    A segmenter's coin edge is ragged by a pixel or so; a coin is a disc (an ellipse once tilted), so when
    the ellipse fits the contour within ``max_residual_px`` (RMS) and is not too flat (eccentricity
    ``sqrt(1 - b^2 / a^2)`` at most ``max_eccentricity``), the ellipse is the better mask. It is rasterised
    like labelme polygons (``cv2.fillPoly``, sub-pixel vertices), and the contour it was fitted through runs
    on boundary pixel centres, so an exact mask comes back unchanged up to a pixel's rounding.
    """
    fit = fit_ellipse(mask)
    if fit is None or fit.residual_rms > max_residual_px:
        return None
    if math.sqrt(max(0.0, 1.0 - (fit.b / fit.a) ** 2)) > max_eccentricity:
        return None
    n = max(32, int(2 * math.pi * fit.a))
    th = np.linspace(0.0, 2 * math.pi, n, endpoint=False)
    r = math.radians(fit.angle_deg)
    x = fit.cx + fit.a * np.cos(th) * math.cos(r) - fit.b * np.sin(th) * math.sin(r)
    y = fit.cy + fit.a * np.cos(th) * math.sin(r) + fit.b * np.sin(th) * math.cos(r)
    out = np.zeros(mask.shape, np.uint8)
    pts = np.round(np.stack([x, y], 1) * 16.0).astype(np.int32)  # 4 fractional bits
    cv2.fillPoly(out, [pts], 1, lineType=cv2.LINE_8, shift=4)
    return out.astype(bool)
