"""Click-seeded object cut for the offline backend: local-background objectness + a GrabCut refinement.

Why not superpixels alone: a screw is 10-40 px wide at 1280x960, about one superpixel of the walker's
working grid, with highlights and thread lines inside; one click seeded one superpixel and the walk
stalled at the first thread (first-click IoU ~0.1). Here each positive click grows a window until the
*connected region that differs from the window's own border colours* stops touching the window
(an object on a surface), thresholded at half the click's contrast (the half-maximum of a blurred
edge). The union of those regions seeds GrabCut on a crop around them: eroded region = object, far
outside = background, negative clicks = background, and GrabCut's colour models place the boundary.

All coordinates are XY pixels of the photo; crops are worked at a bounded size so a click costs tens of
milliseconds whatever the object's size.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import cv2
import numpy as np
from numpy.typing import NDArray

__all__: list[str] = []  # private helpers of core.interactive.superpixel

_Point = tuple[int, int]
_Box = tuple[int, int, int, int]


def _disk(r: int) -> NDArray[np.uint8]:
    return np.asarray(cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1)), np.uint8)


def fill_holes(mask: NDArray[np.uint8]) -> NDArray[np.uint8]:
    """Fill enclosed holes of a 0/1 mask (screws and coins are solid)."""
    # Pad with background so the flood from the corner reaches every outside pixel.
    outside = np.pad(1 - mask, 1, constant_values=1).astype(np.uint8)
    cv2.floodFill(outside, None, (0, 0), 2)
    holes = outside[1:-1, 1:-1] == 1
    return np.maximum(mask, holes.astype(np.uint8))


def seed_region(
    lab: NDArray[np.float32],
    click: _Point,
    negatives: Sequence[_Point],
    *,
    start_radius: int,
    work_side: int,
    lightness_weight: float,
    half_max: float,
    min_contrast: float,
    accept_contrast: float,
) -> NDArray[np.bool_]:
    """The connected region around ``click`` that differs from its local background.

    Args:
        lab: (H, W, 3) float32 CIE Lab photo (OpenCV 8-bit scaling).
        click: positive click, XY pixels.
        negatives: negative clicks; their colours join the background model.
        start_radius: first window half-size in pixels; doubled while the region touches the window.
        work_side: windows are resized to at most this side before the per-pixel work.
        lightness_weight: weight of the L channel in colour distances (< 1 so soft shadows, which
            darken the surface, count less as object).
        half_max: object threshold as a fraction of the click's distance to the background.
        min_contrast: lower bound of that threshold (Lab units).
        accept_contrast: a window whose border the click differs from by less than this (Lab units)
            is taken to lie inside the object, and the search looks wider.

    Returns:
        (H, W) bool region; all False when the click does not differ from any window's border.
    """
    h0, w0 = lab.shape[:2]
    x, y = click
    r = start_radius
    weights = np.array([lightness_weight, 1.0, 1.0], np.float32)
    crit = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 8, 1.0)
    found: list[tuple[NDArray[np.uint8], _Box, bool, float]] = []  # (region, window, touches, contrast)
    while True:
        x0, x1, y0, y1 = max(0, x - r), min(w0, x + r + 1), max(0, y - r), min(h0, y + r + 1)
        roi = lab[y0:y1, x0:x1]
        s = min(1.0, work_side / max(roi.shape[:2]))
        if s < 1.0:
            roi = np.asarray(cv2.resize(roi, None, fx=s, fy=s, interpolation=cv2.INTER_AREA), np.float32)
        h, w = roi.shape[:2]
        ring = np.ones((h, w), bool)
        ring[2:-2, 2:-2] = False
        samples = roi[ring]
        samples = np.ascontiguousarray(samples[:: max(1, len(samples) // 400)])
        k = min(4, len(samples))
        # (k, 3) background colours of the window's border
        _, _, centres = cv2.kmeans(samples, k, None, crit, 1, cv2.KMEANS_PP_CENTERS)  # type: ignore[call-overload]
        extra = [lab[ny, nx] for nx, ny in negatives if x0 <= nx < x1 and y0 <= ny < y1]
        if extra:
            centres = np.vstack([centres, np.asarray(extra, np.float32)])
        diff = (roi[:, :, None, :] - centres[None, None]) * weights  # (h, w, K, 3)
        dist = np.sqrt((diff * diff).sum(-1).min(-1))  # (h, w) distance to the nearest background colour
        px, py = min(w - 1, int((x - x0) * s)), min(h - 1, int((y - y0) * s))
        contrast = float(np.median(dist[max(0, py - 2) : py + 3, max(0, px - 2) : px + 3]))
        region = (dist > max(min_contrast, half_max * contrast)).astype(np.uint8)
        _, cc, stats, _ = cv2.connectedComponentsWithStats(region, connectivity=8)
        c = int(cc[py, px])
        if c:
            comp = fill_holes((cc == c).astype(np.uint8))
            sx, sy, sw, sh = (int(v) for v in stats[c, :4])
            touches = (
                (sx == 0 and x0 > 0)
                or (sy == 0 and y0 > 0)
                or (sx + sw == w and x1 < w0)
                or (sy + sh == h and y1 < h0)
            )
            if s < 1.0:
                comp = (
                    cv2.resize(comp.astype(np.float32), (x1 - x0, y1 - y0), interpolation=cv2.INTER_LINEAR)
                    > 0.5
                ).astype(np.uint8)
            found.append((comp, (x0, y0, x1, y1), touches, contrast))
            if not touches and contrast >= accept_contrast:
                break
        # The window lies inside the object (the click barely differs from the border: shading on a
        # coin), or the region runs out of the window: look wider, until the window is the whole photo.
        if x0 == 0 and y0 == 0 and x1 == w0 and y1 == h0:
            break
        r *= 2
    # Prefer a clear, enclosed region; then any enclosed one; then the widest look.
    best = next((f for f in found if not f[2] and f[3] >= accept_contrast), None)
    best = best or next((f for f in found if not f[2]), None) or (found[-1] if found else None)
    out = np.zeros((h0, w0), bool)
    if best is not None:
        comp, (x0, y0, x1, y1), _, _ = best
        out[y0:y1, x0:x1] = comp > 0
    return out


def grabcut_refine(
    image: NDArray[np.uint8],
    seed: NDArray[np.bool_],
    positives: Sequence[_Point],
    negatives: Sequence[_Point],
    box: _Box | None,
    *,
    erode: int,
    dilate: int,
    work_side: int,
    iterations: int,
) -> NDArray[np.bool_]:
    """Cut the object out of a crop around ``seed`` with GrabCut seeded by the region and the clicks.

    Args:
        image: (H, W, 3) uint8 RGB photo.
        seed: (H, W) bool rough object region (union of :func:`seed_region`).
        positives, negatives: clicks, XY pixels.
        box: optional XYXY integer box; outside it is background.
        erode: the region eroded by this many pixels is certain object.
        dilate: beyond the region dilated by this many pixels is certain background.
        work_side: the crop is resized to at most this side for GrabCut.
        iterations: GrabCut iterations.

    Returns:
        (H, W) bool mask: the parts connected to a positive click, holes filled.
    """
    h0, w0 = seed.shape
    ys, xs = np.nonzero(seed)
    px = np.concatenate([xs, [p[0] for p in positives]]).astype(int)
    py = np.concatenate([ys, [p[1] for p in positives]]).astype(int)
    pad = max(2 * dilate + 2, int(0.1 * max(px.max() - px.min(), py.max() - py.min())))
    x0, x1 = max(0, int(px.min()) - pad), min(w0, int(px.max()) + pad + 1)
    y0, y1 = max(0, int(py.min()) - pad), min(h0, int(py.max()) + pad + 1)
    crop = np.ascontiguousarray(image[y0:y1, x0:x1])
    region = seed[y0:y1, x0:x1].astype(np.uint8)
    gmask = np.where(region > 0, cv2.GC_PR_FGD, cv2.GC_PR_BGD).astype(np.uint8)
    gmask[cv2.dilate(region, _disk(dilate)) == 0] = cv2.GC_BGD
    gmask[[0, -1], :] = cv2.GC_BGD
    gmask[:, [0, -1]] = cv2.GC_BGD
    sure = cv2.erode(region, _disk(erode)) > 0
    yy, xx = np.ogrid[y0:y1, x0:x1]
    for nx, ny in negatives:
        # A negative click inside the region is spill-over: the certain-object core keeps away from it,
        # by a share of its distance to the nearest positive click, so GrabCut may cut between them.
        near = min((math.hypot(nx - qx, ny - qy) for qx, qy in positives), default=0.0)
        rr = max(8.0, 0.4 * near)
        sure &= (xx - nx) ** 2 + (yy - ny) ** 2 > rr * rr
    gmask[sure] = cv2.GC_FGD
    for qx, qy in positives:  # a small disk: never make a pixel certain the user did not mark
        cv2.circle(gmask, (qx - x0, qy - y0), 2, cv2.GC_FGD, -1)
    for nx, ny in negatives:
        cv2.circle(gmask, (nx - x0, ny - y0), 2, cv2.GC_BGD, -1)
    if box is not None:
        bx0, by0, bx1, by1 = box
        inside = (xx >= bx0) & (xx < bx1) & (yy >= by0) & (yy < by1)
        gmask[~inside] = cv2.GC_BGD
    s = min(1.0, work_side / max(crop.shape[:2]))
    work, wmask = crop, gmask
    if s < 1.0:
        work = np.asarray(cv2.resize(crop, None, fx=s, fy=s, interpolation=cv2.INTER_AREA), np.uint8)
        wmask = np.asarray(
            cv2.resize(gmask, (work.shape[1], work.shape[0]), interpolation=cv2.INTER_NEAREST), np.uint8
        )
    has_fg = bool(((wmask == cv2.GC_FGD) | (wmask == cv2.GC_PR_FGD)).any())
    has_bg = bool(((wmask == cv2.GC_BGD) | (wmask == cv2.GC_PR_BGD)).any())
    if has_fg and has_bg:
        bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
        before = wmask.copy()
        # GrabCut seeds its colour models with k-means on OpenCV's (per-thread) random generator: without a
        # fixed seed the same click cut differently depending on what ran before (a search's click on a
        # validation photo went from IoU 0.97 to 0.37).
        cv2.setRNGSeed(0)
        try:
            cv2.grabCut(  # type: ignore[call-overload]
                cv2.cvtColor(work, cv2.COLOR_RGB2BGR),
                wmask,
                None,
                bgd,
                fgd,
                iterations,
                cv2.GC_INIT_WITH_MASK,
            )
        except cv2.error:  # too few pixels of one class for its colour model: keep the seed region
            wmask = before
    obj = ((wmask == cv2.GC_FGD) | (wmask == cv2.GC_PR_FGD)).astype(np.float32)
    if s < 1.0:
        obj = cv2.resize(obj, (crop.shape[1], crop.shape[0]), interpolation=cv2.INTER_LINEAR)
    fg = (obj > 0.5).astype(np.uint8)
    for qx, qy in positives:  # resizing may lose the click's own pixel; it is object by definition
        fg[qy - y0, qx - x0] = 1
    _, cc = cv2.connectedComponents(fg, connectivity=8)
    keep = {int(cc[qy - y0, qx - x0]) for qx, qy in positives} - {0}
    if keep:
        fg = np.isin(cc, list(keep)).astype(np.uint8)
    out = np.zeros((h0, w0), bool)
    out[y0:y1, x0:x1] = fill_holes(fg) > 0
    return out
