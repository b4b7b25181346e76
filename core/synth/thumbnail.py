"""Clean studio thumbnails of a SKU (the search app shows one per result)."""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from core.catalog.catalog import SKU
from core.errors import InputError
from core.synth.appearance import Light, shade_screw
from core.synth.objects import cast_shadow, composite, rasterise
from core.synth.profile import build_profile

__all__ = ["thumbnail"]


def thumbnail(sku: SKU, size: int | tuple[int, int] = 256) -> NDArray[np.uint8]:
    """Render ``sku`` lying horizontally (head left) on a plain light background, soft shadow.

    Args:
        sku: the screw.
        size: output side in pixels, or (width, height); 32..2048.

    Returns:
        (H, W, 3) uint8 RGB image; deterministic.
    """
    w, h = (size, size) if isinstance(size, int) else size
    if not (32 <= w <= 2048 and 32 <= h <= 2048):
        raise InputError(f"thumbnail size {w}x{h} outside 32..2048 pixels", field="size")
    prof = build_profile(sku, 10.0)
    span_u = prof.total_len
    span_v = 2 * float(np.abs(prof.polygon[:, 1]).max())
    s = min(0.86 * w / span_u, 0.8 * h / span_v)
    prof = build_profile(sku, s)
    cx, cy = w / 2, h / 2
    poly = np.stack([cx + (prof.polygon[:, 0] - span_u / 2) * s, cy + prof.polygon[:, 1] * s], 1)
    img = np.ones((h, w, 3), np.float32) * np.asarray([0.93, 0.93, 0.92], np.float32)
    sp = rasterise([poly], h, w)
    if sp is None:  # cannot happen for a centred fit; keep the contract explicit
        raise InputError("thumbnail: screw outside the frame", field="size")
    cast_shadow(img, sp, 0.02 * w, 0.03 * h, 0.02 * min(w, h), 0.35)
    light = Light(math.radians(60), 0.9)

    def colour(xs: NDArray[np.float32], ys: NDArray[np.float32]) -> NDArray[np.float32]:
        u = ((xs - cx) / s + span_u / 2).astype(np.float32)
        v = ((ys - cy) / s).astype(np.float32)
        return shade_screw(prof, u, v, sku.finish, light, s)

    composite(img, sp, colour)
    return np.clip(img * 255 + 0.5, 0, 255).astype(np.uint8)
