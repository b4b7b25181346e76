"""Synthetic screw + coin photos with exact ground truth (masks, angle, head side, size in mm).

Used to train the segmenter and RotationNet and to measure them on held-out seeds. Broad on purpose so the
models meet real photos: random backgrounds (flat, gradient, texture, stripes), lighting gradients, cast
shadows, blur, noise, scale, 0-3 screws (long and short), clutter, coin present or not, objects cut by the
border. Every scene is a pure function of its seed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import cv2
import numpy as np
from numpy.typing import NDArray

__all__ = ["ScrewTruth", "CoinTruth", "Scene", "SceneConfig", "screw_polygon", "render_scene"]


@dataclass(frozen=True)
class ScrewTruth:
    """One screw's truth: centre (x, y), tip->head angle (clockwise from up), sizes in px and mm."""

    center: tuple[float, float]
    angle_deg: float
    length_px: float
    diameter_px: float
    head_diameter_px: float
    length_mm: float
    diameter_mm: float
    mask: NDArray[np.bool_]
    cut_by_border: bool

    @property
    def short(self) -> bool:
        """Short screw: length under 1.6 x head diameter, the min-area rectangle is nearly square."""
        return self.length_px < 1.6 * self.head_diameter_px


@dataclass(frozen=True)
class CoinTruth:
    """The coin: centre, radius in px, and the true scale."""

    cx: float
    cy: float
    r: float
    px_per_mm: float
    diameter_mm: float


@dataclass(frozen=True)
class Scene:
    """A rendered photo: (H, W, 3) uint8 RGB, class masks, per-object truth."""

    image: NDArray[np.uint8]
    screw_mask: NDArray[np.bool_]
    coin_mask: NDArray[np.bool_]
    screws: list[ScrewTruth]
    coin: CoinTruth | None


@dataclass(frozen=True)
class SceneConfig:
    """Scene distribution. ``size`` is (height, width); sizes in mm are drawn at ``px_per_mm_range``
    scaled to a 512-px frame."""

    size: tuple[int, int] = (256, 256)
    n_screws_probs: tuple[float, ...] = (0.05, 0.75, 0.15, 0.05)  # P(0), P(1), P(2), P(3) screws
    p_coin: float = 0.8
    p_short: float = 0.3
    p_cut: float = 0.1
    px_per_mm_range: tuple[float, float] = (4.0, 8.0)
    max_clutter: int = 4
    coin_diameters_mm: tuple[float, ...] = field(default=(23.25, 25.75, 24.25, 22.25, 24.26, 19.05))


def screw_polygon(
    length: float, diameter: float, head_d: float, head_h: float, tip_len: float, pitch: float
) -> NDArray[np.float64]:
    """Screw outline in its canonical frame: head up (-y), centred on the origin, (N, 2) XY.

    The shank has triangular threads: crests at +-diameter/2, roots 12 % of the diameter inside.
    """
    top, bottom = -length / 2.0, length / 2.0
    arc_h = 0.35 * head_h
    head: list[tuple[float, float]] = []
    for k in range(9):  # domed pan head, left to right
        a = math.pi * (1 - k / 8)
        head.append((head_d / 2 * math.cos(a), top + arc_h * (1 - math.sin(a))))
    y0 = top + head_h
    y1 = max(bottom - tip_len, y0 + pitch)
    right: list[tuple[float, float]] = [(head_d / 2, y0), (diameter / 2, y0)]
    y, crest = y0 + pitch / 2, False
    root = diameter / 2 - 0.06 * diameter
    while y < y1:
        right.append((diameter / 2 if crest else root, y))
        crest, y = not crest, y + pitch / 2
    right.append((diameter / 2, y1))
    right.append((0.1 * diameter, bottom))
    left = [(-x, yy) for x, yy in reversed(right)]
    return np.array(head + right + left, dtype=np.float64)


def _background(rng: np.random.Generator, h: int, w: int) -> NDArray[np.float32]:
    kind = rng.integers(4)
    base = rng.uniform(40, 235, size=3)
    img = np.ones((h, w, 3), np.float32) * base
    if kind >= 1:  # gradient
        other = rng.uniform(40, 235, size=3)
        t = np.linspace(0, 1, w, dtype=np.float32)[None, :, None]
        img = img * (1 - t) + other * t
    if kind >= 2:  # low-frequency texture
        small = rng.normal(0, 1, size=(max(h // 32, 2), max(w // 32, 2), 3)).astype(np.float32)
        img += cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC) * rng.uniform(5, 30)
    if kind == 3:  # stripes (wood, fabric, table seams)
        period = rng.uniform(6, 40)
        yy = np.arange(h, dtype=np.float32)[:, None, None]
        img += np.sin(yy / period * 2 * np.pi) * rng.uniform(5, 20)
    img += rng.normal(0, rng.uniform(0, 6), size=img.shape).astype(np.float32)
    return img  # type: ignore


def _axis_fields(
    h: int, w: int, c: tuple[float, float], angle: float
) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    ux, uy = math.sin(math.radians(angle)), -math.cos(math.radians(angle))
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    dx, dy = xs - c[0], ys - c[1]
    return dx * ux + dy * uy, -dx * uy + dy * ux  # along axis (towards head), across axis


def _draw_screw(
    rng: np.random.Generator,
    img: NDArray[np.float32],
    poly: NDArray[np.float64],
    c: tuple[float, float],
    angle: float,
    diameter: float,
    pitch: float,
) -> NDArray[np.bool_]:
    h, w = img.shape[:2]
    a = math.radians(angle)
    # canonical (x right, y down, head at -y) -> photo: rotate clockwise by angle, then translate
    rot = np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
    pts = poly @ rot.T + np.array(c)
    mask8 = np.zeros((h, w), np.uint8)
    cv2.fillPoly(mask8, [np.round(pts * 16).astype(np.int32)], 1, lineType=cv2.LINE_8, shift=4)
    mask = mask8.astype(bool)
    along, across = _axis_fields(h, w, c, angle)
    metal = rng.choice(
        [
            np.array([170, 170, 175]),
            np.array([190, 160, 90]),
            np.array([50, 50, 55]),
            np.array([200, 200, 205]),
        ]
    )
    metal = metal * rng.uniform(0.8, 1.15)
    shade = 0.55 + 0.45 * np.cos(np.clip(across / max(diameter, 1.0), -0.9, 0.9) * np.pi / 1.8) ** 2
    thread = 1.0 + 0.12 * np.sin(along / max(pitch, 1.0) * 2 * np.pi)
    col = metal[None, None, :] * (shade * thread)[..., None]
    # Soft cast shadow first, then the screw.
    off = rng.uniform(1, 5, size=2)
    sh = cv2.warpAffine(mask.astype(np.float32), np.float32([[1, 0, off[0]], [0, 1, off[1]]]), (w, h))  # type: ignore
    sh = cv2.GaussianBlur(sh, (0, 0), 3.0) * rng.uniform(0.0, 0.45)
    img *= (1.0 - sh)[..., None]
    img[mask] = col[mask]
    return mask


def _draw_coin(
    rng: np.random.Generator, img: NDArray[np.float32], cx: float, cy: float, r: float
) -> NDArray[np.bool_]:
    h, w = img.shape[:2]
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    d = np.hypot(xs - cx, ys - cy)
    mask = d <= r
    base = rng.choice([np.array([200, 170, 90]), np.array([185, 185, 190]), np.array([180, 110, 70])])
    base = base * rng.uniform(0.75, 1.15)
    rel = d / max(r, 1.0)
    shade = (
        1.0 - 0.25 * rel + 0.1 * np.sin(xs / rng.uniform(2, 6)) * np.cos(ys / rng.uniform(2, 6)) * (rel < 0.8)
    )
    rim = (rel > 0.85).astype(np.float32) * rng.uniform(-0.25, 0.15)
    col = base[None, None, :] * (shade + rim)[..., None]
    sh = cv2.GaussianBlur(np.roll(mask.astype(np.float32), (3, 3), axis=(0, 1)), (0, 0), 3.0) * 0.3
    img *= (1.0 - sh)[..., None]
    img[mask] = col[mask]
    return mask


def _clutter(rng: np.random.Generator, img: NDArray[np.float32], n: int) -> None:
    h, w = img.shape[:2]
    for _ in range(n):
        color = tuple(float(v) for v in rng.uniform(0, 255, size=3))
        x, y = int(rng.integers(w)), int(rng.integers(h))
        kind = rng.integers(3)
        if kind == 0:
            axes = (int(rng.integers(3, w // 8 + 4)), int(rng.integers(3, h // 8 + 4)))
            cv2.ellipse(img, (x, y), axes, float(rng.uniform(0, 180)), 0, 360, color, -1, cv2.LINE_AA)
        elif kind == 1:
            p2 = (x + int(rng.integers(-w // 3, w // 3)), y + int(rng.integers(-h // 3, h // 3)))
            cv2.line(img, (x, y), p2, color, int(rng.integers(1, 4)), cv2.LINE_AA)
        else:
            s = int(rng.integers(4, w // 6 + 5))
            cv2.rectangle(img, (x, y), (x + s, y + int(s * rng.uniform(0.3, 1.5))), color, -1)


def render_scene(seed: int, config: SceneConfig | None = None) -> Scene:
    """Render one photo. Deterministic in ``seed``."""
    cfg = config or SceneConfig()
    rng = np.random.default_rng(seed)
    h, w = cfg.size
    frame = min(h, w) / 512.0
    ppm = float(rng.uniform(*cfg.px_per_mm_range)) * frame
    img = _background(rng, h, w)
    _clutter(rng, img, int(rng.integers(0, cfg.max_clutter + 1)))
    occupied = np.zeros((h, w), bool)
    coin: CoinTruth | None = None
    coin_mask = np.zeros((h, w), bool)
    if rng.random() < cfg.p_coin:
        dmm = float(rng.choice(cfg.coin_diameters_mm))
        r = dmm * ppm / 2.0
        cx, cy = rng.uniform(r, w - r), rng.uniform(r, h - r)
        coin_mask = _draw_coin(rng, img, cx, cy, r)  # type: ignore
        coin = CoinTruth(float(cx), float(cy), float(r), ppm, dmm)
        occupied |= cv2.dilate(coin_mask.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
    n_screws = int(rng.choice(len(cfg.n_screws_probs), p=np.array(cfg.n_screws_probs)))
    screws: list[ScrewTruth] = []
    screw_mask = np.zeros((h, w), bool)
    for _ in range(n_screws):
        for _attempt in range(20):
            d_mm = float(rng.choice([2.5, 3.0, 3.5, 4.0, 5.0, 6.0]))
            head_d = d_mm * rng.uniform(1.7, 2.1)
            short = rng.random() < cfg.p_short
            l_mm = head_d * rng.uniform(1.0, 1.45) if short else float(rng.uniform(max(4 * d_mm, 12), 60))
            lpx, dpx, hdpx = l_mm * ppm, d_mm * ppm, head_d * ppm
            if lpx > 0.9 * min(h, w):
                continue
            angle = float(rng.uniform(0, 360))
            cut = rng.random() < cfg.p_cut
            margin = 0.0 if cut else lpx / 2 + 2
            cx = rng.uniform(margin, w - margin) if cut else rng.uniform(margin, max(margin + 1, w - margin))
            cy = rng.uniform(margin, h - margin) if cut else rng.uniform(margin, max(margin + 1, h - margin))
            poly = screw_polygon(
                lpx,
                dpx,
                hdpx,
                dpx * rng.uniform(0.5, 0.75),
                dpx * rng.uniform(0.6, 1.0),
                max(dpx * 0.18, 1.2),
            )
            probe = np.zeros((h, w), np.uint8)
            a = math.radians(angle)
            rot = np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
            pts = poly @ rot.T + np.array([cx, cy])
            cv2.fillPoly(probe, [np.round(pts * 16).astype(np.int32)], 1, shift=4)
            inside = bool(
                (pts[:, 0] >= 0).all()
                and (pts[:, 0] < w).all()
                and (pts[:, 1] >= 0).all()
                and (pts[:, 1] < h).all()
            )
            if (probe.astype(bool) & occupied).any() or probe.sum() < 20:
                continue
            m = _draw_screw(rng, img, poly, (float(cx), float(cy)), angle, dpx, max(dpx * 0.18, 1.2))
            occupied |= cv2.dilate(m.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
            screw_mask |= m
            screws.append(
                ScrewTruth((float(cx), float(cy)), angle, lpx, dpx, hdpx, l_mm, d_mm, m, not inside)
            )
            break
    # Lighting, blur, sensor noise.
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    g = rng.uniform(-1, 1, size=2)
    light = rng.uniform(0.6, 1.2) + 0.3 * (g[0] * xs / w + g[1] * ys / h)
    img *= light[..., None]
    if rng.random() < 0.4:
        img = cv2.GaussianBlur(img, (0, 0), float(rng.uniform(0.3, 1.5)))  # type: ignore
    img += rng.normal(0, rng.uniform(0, 8), size=img.shape).astype(np.float32)
    out = np.clip(img, 0, 255).astype(np.uint8)
    return Scene(out, screw_mask, coin_mask & ~screw_mask, screws, coin)
