"""Head-type crops from the photo studio (:mod:`core.synth`): the study's default data.

Each crop is one rendered single-screw photo (random background, light, finish, size, angle, blur, noise
and JPEG), rotated about the head so that the screw points down (the head on top, the canonical pose)
and cut to a square around the head, about 2.2 head diameters wide.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from core.errors import ConfigError

DEFAULT_HEADS: tuple[str, ...] = ("flat", "pan", "hex", "socket_cap", "truss", "button")


def _crop_head(
    image: np.ndarray, head_xy: list[float], tip_xy: list[float], side_px: float, out: int
) -> np.ndarray:
    import cv2

    head, tip = np.asarray(head_xy, float), np.asarray(tip_xy, float)
    axis = tip - head
    axis /= max(float(np.linalg.norm(axis)), 1e-6)
    centre = head + axis * 0.4 * side_px / 2.2  # about the middle of the head
    # Rotate so that the head->tip axis points down (+y), then scale the square to `out` pixels.
    angle = math.degrees(math.atan2(axis[1], axis[0])) - 90.0
    scale = out / side_px
    m = np.asarray(cv2.getRotationMatrix2D((float(centre[0]), float(centre[1])), angle, scale), np.float64)
    m[:, 2] += np.asarray([out / 2, out / 2]) - centre
    return cv2.warpAffine(image, m, (out, out), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REFLECT)


def render_head_crops(
    out: Path, n_per_class: int, classes: tuple[str, ...] | None = None, *, crop_px: int = 96, seed: int = 0
) -> Path:
    """Write ``out/<head>/<i>.png`` crops; returns ``out``.

    Raises:
        ConfigError: An unknown head type or ``n_per_class`` < 1.
    """
    from PIL import Image

    from core.catalog.catalog import build_catalog
    from core.catalog.taxonomy import HEADS
    from core.synth import StudioConfig, render_photo

    heads = tuple(classes) if classes else DEFAULT_HEADS
    unknown = [h for h in heads if h not in HEADS]
    if unknown:
        raise ConfigError(f"unknown head type(s) {unknown}; valid: {', '.join(HEADS)}", field="classes")
    if n_per_class < 1:
        raise ConfigError(f"n_per_class must be >= 1, got {n_per_class}", field="n_per_class")
    catalog = build_catalog(2000)
    studio = StudioConfig(width=320, height=240, distractor_prob=0.0, finger_prob=0.0, perspective=0.03)
    rng = np.random.default_rng(seed)
    for ci, head in enumerate(heads):
        skus = [s for s in catalog if s.head == head]
        folder = out / head
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(n_per_class):
            sku = skus[int(rng.integers(len(skus)))]
            photo = render_photo(sku, seed * 1_000_003 + ci * 10_007 + i, studio, kind="screw")
            side = max(24.0, 2.2 * sku.head_diameter_mm * float(photo.meta["px_per_mm"]))
            crop = _crop_head(photo.image, photo.meta["head_xy"], photo.meta["tip_xy"], side, crop_px)
            Image.fromarray(crop).save(folder / f"{i:04d}.png")
    return out
