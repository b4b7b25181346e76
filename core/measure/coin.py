"""Coin -> pixels per millimetre: a circle fitted on the coin's mask, or an ellipse fitted on the photo's edges.

On a mask (:func:`coin_scale`): a least-squares (Kasa) circle through the coin's outer contour, with contour
points lying on the image border left out (a coin cut by the border still fits). ``cv2.minEnclosingCircle`` is
the fallback when too few points remain. The contour runs through boundary pixel centres and 0.5 px is added to
the fitted radius: the coin's extent in pixels, the same convention as a screw's length read off its mask (the
labels' rasterisation, every pixel the outline touches, is about a pixel wider than the outline).

On the photo (:mod:`core.measure.coin_edges`, what the locator uses when it can):
an ellipse on the coin's edge itself, sub-pixel, and the scale along any direction of a tilted camera
(:meth:`CoinScale.px_per_mm_along`); sizes read off masks then lose the masks' extra pixel
(``core.locate.LocateConfig.mask_oversize_px``).
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
    "fit_ellipse_robust",
    "coin_disc",
    "ellipse_mask",
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
    """Image scale from a coin of known diameter.

    ``px_per_mm`` is the mean over directions. ``ellipse``: the coin's outline when it was fitted on the photo's
    edges (:func:`core.measure.coin_edges.scale_from_ellipse`); a tilted camera draws the coin as an ellipse, and the scale along one
    direction (:meth:`px_per_mm_along`) then differs from the mean by up to the axes' ratio.
    """

    circle: CircleFit
    coin: str
    diameter_mm: float
    px_per_mm: float
    px_per_mm_std: float
    ellipse: EllipseFit | None = None

    def px_per_mm_along(self, angle_deg: float) -> float:
        """Pixels per mm along an image direction (degrees clockwise from image-up, the project's convention).

        With an ellipse: the coin's plane seen through the local affine map that turns the coin's circle into
        the ellipse E (semi-axes a along u, b along v), a vector w of the image is ``sqrt(w' E^-1 w)`` coin
        radii long whatever the map's rotation, so px/mm along d is ``(2 / D) / sqrt((d.u)^2 / a^2 + (d.v)^2 /
        b^2)``. Without one: :attr:`px_per_mm`.
        """
        e = self.ellipse
        if e is None:
            return self.px_per_mm
        t, d = math.radians(angle_deg), math.radians(e.angle_deg)
        dx, dy = math.sin(t), -math.cos(t)
        du = dx * math.cos(d) + dy * math.sin(d)
        dv = -dx * math.sin(d) + dy * math.cos(d)
        return 2.0 / self.diameter_mm / math.sqrt((du / e.a) ** 2 + (dv / e.b) ** 2)


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
    diameter_mm = _coin_diameter(coin, diameter_mm)
    fit = fit_circle(mask)
    # Radius uncertainty: fit noise (rms / sqrt(N)) plus 0.25 px for the half-pixel edge correction.
    rms = fit.residual_rms if math.isfinite(fit.residual_rms) else 1.0
    sigma_r = math.sqrt(rms**2 / max(fit.n_points, 1) + 0.25**2)
    ppm = 2.0 * fit.r / diameter_mm
    return CoinScale(fit, coin, diameter_mm, ppm, 2.0 * sigma_r / diameter_mm)


def _coin_diameter(coin: str, diameter_mm: float | None) -> float:
    if diameter_mm is not None:
        return diameter_mm
    if coin not in COIN_DIAMETERS_MM:
        raise ConfigError(f"unknown coin {coin!r}; choose one of {sorted(COIN_DIAMETERS_MM)}", field="coin")
    return COIN_DIAMETERS_MM[coin]


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


def _fit_points(pts: NDArray[np.float64]) -> tuple[float, float, float, float, float] | None:
    """``cv2.fitEllipse`` through (N, 2) points -> (cx, cy, semi-axis 1, semi-axis 2, angle), None if degenerate."""
    (cx, cy), (d1, d2), ang = cv2.fitEllipse(pts.astype(np.float32))
    if not (math.isfinite(d1) and math.isfinite(d2)) or min(d1, d2) <= 0:
        return None
    return float(cx), float(cy), d1 / 2.0, d2 / 2.0, float(ang)


def _radial_residuals(
    pts: NDArray[np.float64], cx: float, cy: float, a1: float, a2: float, ang: float
) -> NDArray[np.float64]:
    """Signed radial distance (px) of each point to the ellipse (exact for a circle, close for a near-circle)."""
    t = math.radians(ang)
    dx, dy = pts[:, 0] - cx, pts[:, 1] - cy
    u = dx * math.cos(t) + dy * math.sin(t)
    v = -dx * math.sin(t) + dy * math.cos(t)
    rho = np.sqrt((u / a1) ** 2 + (v / a2) ** 2)  # 1 on the ellipse
    return np.asarray((rho - 1.0) * np.hypot(u, v) / np.maximum(rho, 1e-9), np.float64)


def _ellipse_fit(
    cx: float, cy: float, a1: float, a2: float, ang: float, res: NDArray[np.float64]
) -> EllipseFit:
    a, b, rot = (a1, a2, ang) if a1 >= a2 else (a2, a1, ang + 90.0)
    rms = float(np.sqrt(np.mean(res**2)))
    return EllipseFit(float(cx), float(cy), float(a), float(b), float(rot % 180.0), rms, len(res))


def fit_ellipse(mask: NDArray[np.bool_], min_points: int = 12) -> EllipseFit | None:
    """Least-squares ellipse through the contour of a coin mask (a tilted coin is an ellipse).

    Contour points on the image border are left out, so a coin cut by the border still fits. Returns None
    when fewer than ``min_points`` points remain.
    """
    pts = _interior_contour(mask)
    if pts is None or len(pts) < max(min_points, 5):
        return None
    fit = _fit_points(pts)
    if fit is None:
        return None
    return _ellipse_fit(*fit, _radial_residuals(pts, *fit))


def fit_ellipse_robust(
    mask: NDArray[np.bool_],
    min_points: int = 12,
    inlier_px: float = 1.5,
    min_coverage: float = 0.4,
    min_inside: float = 0.95,
) -> EllipseFit | None:
    """An ellipse through the part of the contour that is a coin's edge, when the blob is a coin with something
    stuck to it (its shadow, a touching object): the segmenter often marks a coin's crescent-shaped shadow as coin.

    Starts from the largest disc inside the blob (the distance transform's peak: a crescent is thinner than the
    coin), keeps the contour points near that circle (out to 1.35 x its radius: a tilted coin is an ellipse with
    b / a >= 0.8), then fits and re-keeps the points within ``inlier_px`` of the ellipse three times. Returns the
    fit over the kept points (``n_points`` = their number) when they cover at least ``min_coverage`` of the
    directions around its centre (36 sectors of 10 degrees) with one unbroken arc of >= 120 degrees, ``min_inside`` of the ellipse's area (1.5 px in
    from its rim) lies in the blob, its axes are within 0.75 of each other, its centre near the largest disc's (a
    blob of two round things gives a compromise ellipse that fails these) and what it leaves of the blob is thin
    (at most half the disc's radius thick); else None.
    """
    pts = _interior_contour(mask)
    if pts is None or len(pts) < max(min_points, 5):
        return None
    m = np.pad(mask.astype(np.uint8), 1)
    dist = cv2.distanceTransform(m, cv2.DIST_L2, 5)[1:-1, 1:-1]
    r0 = float(dist.max())
    if r0 < 3.0:
        return None
    yi, xi = np.unravel_index(int(np.argmax(dist)), dist.shape)
    x0, y0 = float(xi), float(yi)
    d = np.hypot(pts[:, 0] - x0, pts[:, 1] - y0)
    best: tuple[float, tuple[float, float, float, float, float], NDArray[np.bool_]] | None = None
    # Several starts (contour points out to 1.1-1.35 x the disc's radius): a tight start keeps a shadow's rim
    # out, a wide one takes a tilted coin's far ends in. The best-supported fit that passes the checks wins.
    for reach in (1.1, 1.2, 1.35):
        keep = (d >= r0 - 1.5) & (d <= reach * r0 + 1.0)
        fit = None
        for _ in range(3):
            if int(keep.sum()) < max(min_points, 5):
                fit = None
                break
            fit = _fit_points(pts[keep])
            if fit is None:
                break
            keep = np.abs(_radial_residuals(pts, *fit)) <= inlier_px
        if fit is None or keep.sum() < max(min_points, 5):
            continue
        score = _coin_support(mask, pts, keep, fit, x0, y0, r0, min_coverage, min_inside)
        if score is not None and (best is None or score > best[0]):
            best = (score, fit, keep)
    if best is None:
        return None
    _, fit, keep = best
    return _ellipse_fit(*fit, _radial_residuals(pts[keep], *fit))


def _coin_support(
    mask: NDArray[np.bool_],
    pts: NDArray[np.float64],
    keep: NDArray[np.bool_],
    fit: tuple[float, float, float, float, float],
    x0: float,
    y0: float,
    r0: float,
    min_coverage: float,
    min_inside: float,
) -> float | None:
    """How well a robust fit is supported (sectors of the outline it runs along), None when it fails a check."""
    cx, cy, a1, a2, ang = fit
    # Still the coin the search started from: round enough, centred near the largest disc inside the blob.
    if min(a1, a2) < 0.75 * max(a1, a2) or math.hypot(cx - x0, cy - y0) > 0.15 * r0 + 1.0:
        return None
    sectors = np.floor(np.degrees(np.arctan2(pts[keep, 1] - cy, pts[keep, 0] - cx)) % 360.0 / 10.0)
    hit = np.zeros(36, bool)
    hit[sectors.astype(int) % 36] = True
    covered = int(hit.sum())
    # ... and one unbroken arc of at least 120 degrees: a square's sides touch its inscribed circle in four
    # short arcs, a coin's visible edge is one long one.
    run = longest = 0
    for h in np.concatenate([hit, hit]):
        run = run + 1 if h else 0
        longest = max(longest, min(run, 36))
    if covered < min_coverage * 36 or longest < 12:
        return None
    # The fit runs through boundary pixel centres: test the ellipse 1.5 px in, so its own rim does not count.
    disc = np.zeros(mask.shape, np.uint8)
    cv2.ellipse(disc, ((cx, cy), (2 * a1 - 3.0, 2 * a2 - 3.0), ang), 1, -1)
    area = int(disc.sum())
    if area == 0:
        return None
    inside = float((disc.astype(bool) & mask).sum()) / area
    if inside < min_inside:
        return None
    # What the ellipse leaves of the blob must be thin (a shadow's rim, a touching screw), not a second body:
    # a bar's square end also holds a circle-like arc, but the rest of the bar is as thick as that circle.
    full = np.zeros(mask.shape, np.uint8)
    cv2.ellipse(full, ((cx, cy), (2 * a1 + 3.0, 2 * a2 + 3.0), ang), 1, -1)
    rest = np.pad((mask & ~full.astype(bool)).astype(np.uint8), 1)
    if rest.any() and float(cv2.distanceTransform(rest, cv2.DIST_L2, 5).max()) > 0.5 * r0:
        return None
    return covered + 100.0 * inside


def coin_disc(
    mask: NDArray[np.bool_],
    max_residual_px: float = 1.0,
    max_eccentricity: float = 0.6,
    robust: bool = False,
) -> NDArray[np.bool_] | None:
    """The coin's mask redrawn as its fitted ellipse, or None when the blob does not look like a coin.

    A segmenter's coin edge is ragged by a pixel or so; a coin is a disc (an ellipse once tilted), so when
    the ellipse fits the contour within ``max_residual_px`` (RMS) and is not too flat (eccentricity
    ``sqrt(1 - b^2 / a^2)`` at most ``max_eccentricity``), the ellipse is the better mask. It is rasterised
    like labelme polygons (``cv2.fillPoly``, sub-pixel vertices), and the contour it was fitted through runs
    on boundary pixel centres, so an exact mask comes back unchanged up to a pixel's rounding.

    ``robust``: when the whole contour does not fit, try :func:`fit_ellipse_robust` (a coin with its shadow
    or a touching object attached), with the same limits on its kept points.
    """
    fit = fit_ellipse(mask)
    if (fit is None or fit.residual_rms > max_residual_px) and robust:
        fit = fit_ellipse_robust(mask)
    if fit is None or fit.residual_rms > max_residual_px:
        return None
    if math.sqrt(max(0.0, 1.0 - (fit.b / fit.a) ** 2)) > max_eccentricity:
        return None
    return ellipse_mask(mask.shape, fit)


def ellipse_mask(shape: tuple[int, ...], fit: EllipseFit) -> NDArray[np.bool_]:
    """An ellipse rasterised like labelme polygons (``cv2.fillPoly`` of sub-pixel vertices on its outline)."""
    n = max(32, int(2 * math.pi * fit.a))
    th = np.linspace(0.0, 2 * math.pi, n, endpoint=False)
    r = math.radians(fit.angle_deg)
    x = fit.cx + fit.a * np.cos(th) * math.cos(r) - fit.b * np.sin(th) * math.sin(r)
    y = fit.cy + fit.a * np.cos(th) * math.sin(r) + fit.b * np.sin(th) * math.cos(r)
    out = np.zeros(shape[:2], np.uint8)
    pts = np.round(np.stack([x, y], 1) * 16.0).astype(np.int32)  # 4 fractional bits
    cv2.fillPoly(out, [pts], 1, lineType=cv2.LINE_8, shift=4)
    return out.astype(bool)
