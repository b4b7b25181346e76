"""The coin's outline fitted on the photo's own edges, and the scale it gives (the locator's way when it can).

A segmenter's coin outline (:mod:`core.measure.coin`) is ragged and often takes in the coin's shadow; this moves it
onto the photo's edges as a sub-pixel ellipse on the edge itself, whose axes also give the scale along any image
direction of a tilted camera (:meth:`core.measure.coin.CoinScale.px_per_mm_along`).
"""

from __future__ import annotations

import math
from dataclasses import replace

import cv2
import numpy as np
from numpy.typing import NDArray

from core.catalog.coins import DEFAULT_COIN
from core.measure.coin import (
    CircleFit,
    CoinScale,
    EllipseFit,
    _coin_diameter,
    _ellipse_fit,
    _fit_points,
    _radial_residuals,
)

__all__ = [
    "EDGE_RADIUS_STD_PX",
    "colour_steps",
    "fit_inliers",
    "outline_normals",
    "refine_ellipse_on_edges",
    "scale_from_ellipse",
]


def refine_ellipse_on_edges(
    image: NDArray[np.uint8],
    fit: EllipseFit,
    reach: float = 0.06,
    inlier: float = 0.025,
    sigma: float = 0.012,
    min_inliers: float = 0.4,
    passes: int = 1,
    min_step: float = 8.0,
) -> EllipseFit | None:
    """The coin's outline moved onto the photo's own edges: a sub-pixel ellipse, or None when the edges do not
    support one.

    A segmenter's coin outline is ragged and often takes in the coin's shadow; at 1280x960 it is also drawn
    from a pass at 512 px. Along the normal of ``fit`` (a mask's ellipse) at each outline point, the photo
    (Gaussian-smoothed) is sampled every 1/4 px within ``reach`` and the strongest colour step is taken, to a
    sub-pixel peak; an ellipse is fitted through those points and refitted three times on the points within
    ``inlier`` of it; ``passes`` times, each from the last ellipse (a start a pixel off samples the curved edge
    obliquely, which biases one pass slightly towards the start: ~0.25 px on a drawn coin; on the validation
    coins a second pass refused more fits and gave IoU 0.9597 / 0.9771 instead of 0.9608 / 0.9777, so one is
    the default). ``reach``, ``inlier`` and ``sigma`` are
    fractions of the coin's long semi-axis (floors 2, 0.75 and 0.5 px). Refused (None) when fewer than
    ``min_inliers`` of the points are kept, the ellipse moved further than ``reach`` from ``fit``, or the median
    colour step across the kept points (RGB distance of the smoothed photo 1.5 px either side) is under
    ``min_step`` grey levels: no edge, only noise.

    Validation (coins of 200 photos of seed 500,011 at 512x384 and 100 of seed 4,600,000 at 1280x960, shipped
    segmenter; a scratch study of session 12, see models/segmenter/MODEL_CARD.md): coin IoU 0.948 -> 0.961
    and 0.958 -> 0.978, median scale error 2.5 % -> 0.7 % and 1.4 % -> 0.3 %; the settings were chosen there.
    The ellipse lies on the edge itself (no half-pixel offset): :func:`ellipse_mask` rasterises it like the
    labels.
    """
    reach_px = max(2.0, reach * fit.a)
    inlier_px = max(0.75, inlier * fit.a)
    sigma_px = max(0.5, sigma * fit.a)
    # only the coin's surroundings are smoothed (a window the passes cannot leave: they stop at ``reach``)
    h, w = image.shape[:2]
    margin = fit.a + 2.0 * reach_px + 4.0 * sigma_px + 4.0
    x0, y0 = max(int(fit.cx - margin), 0), max(int(fit.cy - margin), 0)
    x1, y1 = min(int(fit.cx + margin) + 1, w), min(int(fit.cy + margin) + 1, h)
    if x1 - x0 < 8 or y1 - y0 < 8:
        return None
    window = image[y0:y1, x0:x1].astype(np.float32)
    img = np.asarray(cv2.GaussianBlur(window, (0, 0), sigma_px), np.float32)
    start = replace(fit, cx=fit.cx - x0, cy=fit.cy - y0)
    out: EllipseFit | None = start
    for _ in range(max(passes, 1)):
        assert out is not None
        out = _edge_pass(img, out, reach_px, inlier_px, min_inliers, min_step, (x0, y0, w, h))
        if out is None:
            return None
        if (
            math.hypot(out.cx - start.cx, out.cy - start.cy) > reach_px
            or max(abs(out.a - fit.a), abs(out.b - fit.b)) > reach_px
        ):
            return None
    assert out is not None
    return replace(out, cx=out.cx + x0, cy=out.cy + y0)


def _edge_pass(
    img: NDArray[np.float32],
    fit: EllipseFit,
    reach_px: float,
    inlier_px: float,
    min_inliers: float,
    min_step: float,
    frame: tuple[int, int, int, int],
) -> EllipseFit | None:
    """One pass of :func:`refine_ellipse_on_edges` on the smoothed window of the photo at ``frame`` = (x0, y0,
    photo width, photo height)."""
    x, y, nx, ny = outline_normals(fit)
    n = len(x)
    step = 0.25
    t = np.arange(-reach_px, reach_px + 1e-9, step)
    xs = (x[:, None] + t[None] * nx[:, None]).astype(np.float32)
    ys = (y[:, None] + t[None] * ny[:, None]).astype(np.float32)
    prof = cv2.remap(img, xs, ys, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)  # (n, T, channels)
    if prof.ndim == 2:
        prof = prof[..., None]
    mag = np.sqrt((np.gradient(prof, step, axis=1) ** 2).sum(-1))  # colour step along the normal
    k = np.argmax(mag[:, 1:-1], 1) + 1
    i = np.arange(n)
    m0, m1, m2 = mag[i, k - 1], mag[i, k], mag[i, k + 1]
    den = m0 - 2.0 * m1 + m2
    safe = np.abs(den) > 1e-9
    off = np.where(safe, 0.5 * (m0 - m2) / np.where(safe, den, 1.0), 0.0)  # parabola through the peak
    tt = t[k] + np.clip(off, -0.5, 0.5) * step
    px, py = x + tt * nx, y + tt * ny
    x0, y0, w, h = frame  # points near the photo's border are not the coin's edge
    gx, gy = px + x0, py + y0
    ok = (m1 > 0.25 * np.median(m1)) & (gx > 1) & (gy > 1) & (gx < w - 2) & (gy < h - 2)
    pts = np.stack([px, py], 1)[ok]
    step_sizes = colour_steps(img, px, py, nx, ny)[ok]
    fitted = fit_inliers(pts, n, inlier_px, min_inliers)
    if fitted is None or float(np.median(step_sizes[fitted[1]])) < min_step:
        return None
    return fitted[0]


def outline_normals(
    fit: EllipseFit,
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Points (x, y) about every pixel around the ellipse (at least 64) and their outward unit normals (nx, ny),
    XY pixels."""
    n = max(64, int(2 * math.pi * fit.a))
    th = np.linspace(0.0, 2 * math.pi, n, endpoint=False)
    r = math.radians(fit.angle_deg)
    cr, sr = math.cos(r), math.sin(r)
    x = fit.cx + fit.a * np.cos(th) * cr - fit.b * np.sin(th) * sr
    y = fit.cy + fit.a * np.cos(th) * sr + fit.b * np.sin(th) * cr
    nu, nv = np.cos(th) / fit.a, np.sin(th) / fit.b  # outward normal in the ellipse's own axes
    nx, ny = nu * cr - nv * sr, nu * sr + nv * cr
    norm = np.hypot(nx, ny)
    return x, y, nx / norm, ny / norm


def colour_steps(
    image: NDArray[np.floating] | NDArray[np.uint8],
    x: NDArray[np.float64],
    y: NDArray[np.float64],
    nx: NDArray[np.float64],
    ny: NDArray[np.float64],
    half: float = 1.5,
) -> NDArray[np.float32]:
    """RGB distance between ``half`` px inside and outside each point (x, y) along its normal (nx, ny): a coin's
    edge has a colour step across it, noise does not."""
    inner, outer = (
        np.asarray(
            cv2.remap(
                image,
                (x + d * nx).astype(np.float32)[None],
                (y + d * ny).astype(np.float32)[None],
                cv2.INTER_LINEAR,
                borderMode=cv2.BORDER_REPLICATE,
            ),
            np.float32,
        ).reshape(len(x), -1)
        for d in (-half, half)
    )
    return np.asarray(np.sqrt(((inner - outer) ** 2).sum(-1)), np.float32)


def fit_inliers(
    pts: NDArray[np.float64], n_all: int, inlier_px: float, min_inliers: float
) -> tuple[EllipseFit, NDArray[np.bool_]] | None:
    """An ellipse through edge points, refitted three times on the points within ``inlier_px`` of it, and the
    points it keeps; None when fewer than ``min_inliers`` x ``n_all`` (at least 5) are kept or the fit degenerates."""
    keep: NDArray[np.bool_] = np.ones(len(pts), bool)
    got = None
    for _ in range(3):
        if keep.sum() < max(min_inliers * n_all, 5):
            return None
        got = _fit_points(pts[keep])
        if got is None:
            return None
        keep = np.asarray(np.abs(_radial_residuals(pts, *got)) <= inlier_px, bool)
    if got is None or keep.sum() < max(min_inliers * n_all, 5):
        return None
    return _ellipse_fit(*got, _radial_residuals(pts[keep], *got)), keep


#: Radius error of an ellipse fitted on a coin's edges (px), for the scale's std: the median scale error on
#: validation was ~0.3 px of radius at both 512 and 1280 px (see :func:`refine_ellipse_on_edges`); a median
#: absolute error of 0.3 is a normal std of 0.45.
EDGE_RADIUS_STD_PX = 0.45


def scale_from_ellipse(
    fit: EllipseFit, coin: str = DEFAULT_COIN, diameter_mm: float | None = None
) -> CoinScale:
    """The scale of a coin outline fitted on the photo's edges (:func:`refine_ellipse_on_edges`): mean
    ``(a + b) / D`` px per mm, and the ellipse for :meth:`CoinScale.px_per_mm_along`.

    Raises:
        ConfigError: unknown coin name.
    """
    diameter_mm = _coin_diameter(coin, diameter_mm)
    r = 0.5 * (fit.a + fit.b)
    circle = CircleFit(fit.cx, fit.cy, r, fit.residual_rms, fit.n_points, "ellipse on image edges")
    sigma_r = math.hypot(fit.residual_rms / math.sqrt(max(fit.n_points, 1)), EDGE_RADIUS_STD_PX)
    return CoinScale(circle, coin, diameter_mm, 2.0 * r / diameter_mm, 2.0 * sigma_r / diameter_mm, fit)
