"""Screw length and shank diameter in millimetres, with an uncertainty.

Length: extent of the mask's pixel centres along the screw axis, plus one pixel (the footprint of the two
end pixels). Diameter: a high percentile (default the 90th) of the row widths over the shank rows of the
head-up canonical mask. Thread crests set the nominal size (M4 = 4 mm major diameter) while a plain median
sits between crest and root, hence the percentile; ``percentile=50`` gives the median width.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from core.errors import InputError
from core.pose.canonical import row_widths
from core.pose.geometry import direction

__all__ = [
    "ScrewSize",
    "HeadHeight",
    "head_height_px",
    "length_px_along_axis",
    "shank_diameter_px",
    "measure_screw",
]

# Quantisation of a length measured between two pixel edges: each end is uncertain by +-0.5 px (uniform),
# so std = sqrt(2 / 12) px.
_QUANT_STD_PX = math.sqrt(2.0 / 12.0)


@dataclass(frozen=True)
class ScrewSize:
    """Measured size; ``*_mm`` are None when there is no scale (no coin)."""

    length_px: float
    diameter_px: float
    length_mm: float | None
    length_mm_std: float | None
    diameter_mm: float | None
    diameter_mm_std: float | None


@dataclass(frozen=True)
class HeadHeight:
    """Head of a head-up canonical mask.

    Attributes:
        height_px: rows from the top of the head to its bearing face (where the shank starts).
        countersunk: True when the head narrows gradually into the shank (a cone: flat, oval, bugle...),
            whose head sits inside the nominal length; False for a flat bearing face (pan, hex, ...).
    """

    height_px: float
    countersunk: bool


def head_height_px(
    canonical_mask: NDArray[np.bool_], head_rows: tuple[int, int], taper_share: float = 0.4
) -> HeadHeight:
    """Head height and kind from the head rows of a head-up canonical mask (see ``core.pose.split_parts``).

    Catalog lengths are nominal: under the head for heads with a flat bearing face, overall for countersunk
    heads. Below the head's widest row a flat bearing face drops to the shank within a row or two, a cone
    narrows over many rows: when more than ``taper_share`` of the rows from the widest row to the bearing
    face are between 1.2x the shank width and 0.85x the head width, the head is called countersunk.
    """
    w = row_widths(canonical_mask)
    top, end = int(head_rows[0]), int(head_rows[1])
    if end - top < 2:
        return HeadHeight(float(max(end - top, 0)), False)
    rows = np.flatnonzero(w > 0)
    n = int(rows[-1]) + 1 - top if rows.size else end - top
    body = w[top + int(0.4 * n) : top + max(int(0.8 * n), int(0.4 * n) + 1)]
    shank = float(np.median(body)) if body.size else float(w[end - 1])
    head = w[top:end]
    k = int(np.argmax(head))
    below = head[k + 1 :]
    if below.size == 0:
        return HeadHeight(float(end - top), False)
    tapering = (below > 1.2 * shank) & (below < 0.85 * float(head[k]))
    return HeadHeight(float(end - top), bool(tapering.mean() > taper_share and below.size >= 2))


def length_px_along_axis(mask: NDArray[np.bool_], angle_deg: float) -> float:
    """Extent of the mask along the axis ``angle_deg`` (project convention), in pixels."""
    ys, xs = np.nonzero(mask)
    if xs.size == 0:
        raise InputError("empty screw mask: nothing to measure", field="mask")
    ux, uy = direction(angle_deg)
    t = xs * ux + ys * uy
    # Footprint of a pixel along the axis: its projection length |ux| + |uy| (1 when axis-aligned).
    return float(t.max() - t.min()) + max(abs(ux), abs(uy))


def shank_diameter_px(
    canonical_mask: NDArray[np.bool_], body_rows: tuple[int, int], percentile: float = 90.0
) -> float:
    """Shank width from the body rows of a head-up canonical mask (falls back to all rows)."""
    w = row_widths(canonical_mask)
    part = w[body_rows[0] : body_rows[1]]
    part = part[part > 0]
    if part.size == 0:
        part = w[w > 0]
    if part.size == 0:
        raise InputError("empty canonical mask: nothing to measure", field="canonical_mask")
    return float(np.percentile(part, percentile))


def measure_screw(
    length_px: float,
    diameter_px: float,
    px_per_mm: float | None,
    px_per_mm_std: float = 0.0,
    mask_rel_std: float = 0.0,
    across_px_per_mm: float | None = None,
) -> ScrewSize:
    """Convert pixel sizes to millimetres and propagate the uncertainty.

    The std combines, in quadrature, pixel quantisation, the scale's std (``px_per_mm_std``) and
    ``mask_rel_std``: the relative error of a size read from a predicted mask (0 for an exact mask).
    ``px_per_mm`` converts the length; ``across_px_per_mm`` (default the same) the diameter, for a scale that
    differs across the screw's axis (a tilted camera, :meth:`core.measure.coin.CoinScale.px_per_mm_along`).
    """
    if px_per_mm is None:
        return ScrewSize(length_px, diameter_px, None, None, None, None)
    across = px_per_mm if across_px_per_mm is None else across_px_per_mm
    if px_per_mm <= 0 or across <= 0:
        raise InputError(f"px_per_mm must be positive, got {px_per_mm}, {across}", field="px_per_mm")
    if mask_rel_std < 0:
        raise InputError(f"mask_rel_std must be >= 0, got {mask_rel_std}", field="mask_rel_std")
    rel_scale = px_per_mm_std / px_per_mm

    def conv(px: float, ppm: float) -> tuple[float, float]:
        mm = px / ppm
        return mm, mm * math.hypot(_QUANT_STD_PX / max(px, 1e-6), rel_scale, mask_rel_std)

    lmm, lstd = conv(length_px, px_per_mm)
    dmm, dstd = conv(diameter_px, across)
    return ScrewSize(length_px, diameter_px, lmm, lstd, dmm, dstd)
