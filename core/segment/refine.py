"""Edge refinement of one predicted mask with GrabCut, seeded by the segmenter's probabilities.

The U-Net runs at 512 px (plus a zoomed second pass), so its screw masks are smooth blobs a pixel or two
off the true outline, with shadows sometimes attached. Head and tip classes are read from the outline, so
those pixels matter: on validation crops (seed 200, 960x720 photos, the shipped models) cutting the crops from
the GrabCut-refined mask instead of the raw one moved head accuracy 0.575 -> 0.70 and tip 0.536 -> 0.65
(models/segmenter/MODEL_CARD.md, "GrabCut refinement").

GrabCut (Rother et al. 2004, ``cv2.grabCut``) fits colour mixtures to the foreground and background of a box
around the blob and cuts along image edges. It is seeded from the probabilities as a trimap:

* sure foreground: the blob eroded by ``sure_erode`` px where the probability is above ``sure_prob``;
* probably foreground: probability >= ``fg_prob`` (the segmenter's own threshold);
* probably background: probability in (``bg_prob``, ``fg_prob``);
* sure background: the rest of the box (probability <= ``bg_prob``), except within ``reach`` shank widths of
  the blob, which starts as probably background: the U-Net often gives a large flat head face (hex, square,
  button heads seen close up) probability ~0, and GrabCut can only give such pixels back when they are not
  fixed as background.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

from core.errors import ConfigError
from core.segment.predictor import clean_instances

__all__ = ["GrabCutConfig", "grabcut_refine"]


@dataclass(frozen=True)
class GrabCutConfig:
    """Settings of :func:`grabcut_refine` (defaults chosen on validation crops, see the module docstring).

    Attributes:
        iterations: GrabCut iterations (each costs about the same; 1 is ~40 % faster, slightly worse on its own;
            the locator uses 1, as EdgeNet redraws the outline after it: :class:`core.locate.LocateConfig`).
        pad: pixels of box around the blob (the background model is fitted there).
        sure_erode: erosion (3x3, px) of the blob before it counts as sure foreground.
        sure_prob: probability above which an eroded-blob pixel is sure foreground.
        fg_prob: probability from which a pixel starts as probably foreground.
        bg_prob: probability up to which a pixel in the box is sure background.
        min_ratio, max_ratio: the refined mask is kept only when its area is within these factors of the
            blob's (GrabCut can run away on low-contrast photos; then the blob is returned unchanged).
        reach: pixels within this many blob widths (twice the blob's largest inscribed radius, about the shank's
            diameter) of the blob start as probably background even where the probability is ~0, so GrabCut can
            add a head the U-Net missed; the box grows to hold them (0 = off). On 296 validation search photos
            (1280x960, seeds 4,500,000 / 4,600,000, the blob overlapping the true screw most) mean screw IoU 0.873
            -> 0.892, IoU below 0.8 in 22 % -> 17 % of photos (0.5 widths: 0.885; 2: 0.888).
        ring: after the cut, the blob's own pixels within this many px (3x3 steps) of the refined mask are
            added back (0 = off). GrabCut cuts along the edge at pixel centres, while the labels (and the
            U-Net trained on them) count every pixel the outline touches; on 200 validation photos (seed
            500,011, 512x384, with the blob verifier) ring 1 moved screw IoU 0.840 -> 0.850, nominal length
            error 0.067 -> 0.061, head-to-tip 0.050 -> 0.044, diameter 0.137 -> 0.138. The locator applies
            it only where the U-Net saw the photo at its full resolution (``Segmentation.scale`` 1):
            on 1280x960 search photos, where the blob is upsampled from a 512-px pass, it cost screw IoU
            (median 0.925 -> 0.911) and SKU top-1 (0.780 -> 0.768) on the 500 validation photos.
        max_pixels: a box with more pixels than this is cut at a lower resolution (shrunk to about this many
            pixels, the answer enlarged back; 0 = always at full size). GrabCut's time grows with the box: a
            large screw in a 1280x960 photo took ~0.7 s a cut at full size, and the search's median photo -> top-10
            time over 24 validation photos (main cut only; ``python -m bench.search_latency --max-pixels 0 100000
            50000``) was 497 ms at full size, 364 ms at 100,000 px (median of 3 runs: 345-401 ms), 285 ms at
            50,000 px. The shrunk cut is ~2 px fatter where edges blend, but EdgeNet redraws the main outline
            at full size after it: SKU top-1 / top-5 on the 500 validation photos (``bench.ranking_study``)
            0.898 / 0.940 at full size, **0.892 / 0.940** at 100,000 px, 0.886 / 0.940 at 50,000 px.
    """

    iterations: int = 3
    pad: int = 12
    sure_erode: int = 4
    sure_prob: float = 0.9
    fg_prob: float = 0.5
    bg_prob: float = 0.01
    min_ratio: float = 0.5
    max_ratio: float = 1.6
    ring: int = 1
    reach: float = 1.0
    max_pixels: int = 100_000

    def __post_init__(self) -> None:
        if self.iterations < 1:
            raise ConfigError(f"iterations must be >= 1, got {self.iterations}", field="iterations")
        if not 0.0 <= self.bg_prob < self.fg_prob <= self.sure_prob <= 1.0:
            raise ConfigError(
                "probabilities must satisfy 0 <= bg_prob < fg_prob <= sure_prob <= 1, got "
                f"{self.bg_prob}, {self.fg_prob}, {self.sure_prob}",
                field="bg_prob",
            )
        if not 0.0 < self.min_ratio <= 1.0 <= self.max_ratio:
            raise ConfigError(
                f"need 0 < min_ratio <= 1 <= max_ratio, got {self.min_ratio}, {self.max_ratio}",
                field="min_ratio",
            )
        if self.reach < 0:
            raise ConfigError(f"reach must be >= 0 blob widths, got {self.reach}", field="reach")
        if self.ring < 0:
            raise ConfigError(f"ring must be >= 0 px, got {self.ring}", field="ring")
        if self.max_pixels < 0:
            raise ConfigError(
                f"max_pixels must be >= 0 (0 = no limit), got {self.max_pixels}", field="max_pixels"
            )


def _box(mask: NDArray[np.bool_], pad: int) -> tuple[int, int, int, int]:
    ys, xs = np.nonzero(mask)
    h, w = mask.shape
    return (
        max(0, int(ys.min()) - pad),
        min(h, int(ys.max()) + 1 + pad),
        max(0, int(xs.min()) - pad),
        min(w, int(xs.max()) + 1 + pad),
    )


def grabcut_refine(
    image: NDArray[np.uint8],
    prob: NDArray[np.floating],
    mask: NDArray[np.bool_],
    config: GrabCutConfig | None = None,
) -> NDArray[np.bool_]:
    """The blob ``mask`` with its outline moved onto the image's edges.

    Args:
        image: (H, W, 3) uint8 photo.
        prob: (H, W) the segmenter's probability of this class.
        mask: (H, W) bool, one blob of that class.
        config: settings (defaults when None).

    Returns:
        (H, W) bool: the largest connected part of GrabCut's foreground, holes filled, or ``mask`` itself
        when GrabCut fails or its answer is implausible (empty, or an area outside the config's ratios).
        Deterministic (OpenCV's random generator is seeded for each call).
    """
    cfg = config or GrabCutConfig()
    area = int(mask.sum())
    if area < 20:
        return mask
    reach = 0
    if cfg.reach > 0:
        b0, b1, c0, c1 = _box(mask, 1)
        inner = cv2.distanceTransform(mask[b0:b1, c0:c1].astype(np.uint8), cv2.DIST_L2, 3)
        reach = int(round(cfg.reach * 2.0 * float(inner.max())))
    y0, y1, x0, x1 = _box(mask, max(cfg.pad, reach + 4))
    p = np.asarray(prob[y0:y1, x0:x1], np.float32)
    blob = mask[y0:y1, x0:x1]
    trimap = np.full(p.shape, cv2.GC_BGD, np.uint8)
    trimap[p > cfg.bg_prob] = cv2.GC_PR_BGD
    if reach:
        outside = cv2.distanceTransform((~blob).astype(np.uint8), cv2.DIST_L2, 3)
        trimap[outside <= reach] = cv2.GC_PR_BGD
    trimap[p >= cfg.fg_prob] = cv2.GC_PR_FGD
    core = blob
    if cfg.sure_erode:
        core = cv2.erode(blob.astype(np.uint8), np.ones((3, 3), np.uint8), iterations=cfg.sure_erode) > 0
    trimap[core & (p > cfg.sure_prob)] = cv2.GC_FGD
    bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    crop = np.ascontiguousarray(image[y0:y1, x0:x1])
    bh, bw = trimap.shape
    small = cfg.max_pixels and bh * bw > cfg.max_pixels
    if small:  # cut a shrunken box: the labels by nearest neighbour, the photo by area averaging
        f = float(np.sqrt(cfg.max_pixels / (bh * bw)))
        size = (max(int(round(bw * f)), 2), max(int(round(bh * f)), 2))
        crop = np.ascontiguousarray(cv2.resize(crop, size, interpolation=cv2.INTER_AREA))
        trimap = np.ascontiguousarray(cv2.resize(trimap, size, interpolation=cv2.INTER_NEAREST))
    cv2.setRNGSeed(0)
    try:
        rect = (0, 0, trimap.shape[1], trimap.shape[0])  # ignored with GC_INIT_WITH_MASK
        cv2.grabCut(crop, trimap, rect, bgd, fgd, cfg.iterations, cv2.GC_INIT_WITH_MASK)
    except cv2.error:  # e.g. no background samples in the box: keep the segmenter's blob
        return mask
    fg = ((trimap == cv2.GC_FGD) | (trimap == cv2.GC_PR_FGD)).astype(np.float32)
    if small:
        fg = np.asarray(cv2.resize(fg, (bw, bh), interpolation=cv2.INTER_LINEAR), np.float32)
    parts = clean_instances(fg, 0.5, 1)  # connected parts, holes filled, largest first
    if not parts:
        return mask
    filled = parts[0]
    new_area = int(filled.sum())
    if not cfg.min_ratio * area <= new_area <= cfg.max_ratio * area:
        return mask
    filled = filled.astype(bool)
    if cfg.ring:
        grown = cv2.dilate(filled.astype(np.uint8), np.ones((3, 3), np.uint8), iterations=cfg.ring) > 0
        filled |= blob & grown
    out = np.zeros_like(mask)
    out[y0:y1, x0:x1] = filled
    return out
