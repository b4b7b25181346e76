"""Scene pieces of the photo studio: backgrounds, the coin, distractors, fingers, light and camera.

Base backgrounds are generated once per (kind, variant, size) and cached per process; each photo
varies them with a random flip and colour transform. scikit-image's ``brick``, ``grass`` and
``gravel`` are CC0 texture photos (CC0Textures), so they may ship inside generated data.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Final

import cv2
import numpy as np
from numpy.typing import NDArray

from core.catalog.coins import COINS as ALL_COINS

__all__ = [
    "BACKGROUNDS",
    "COINS",
    "background",
    "draw_background_kind",
    "base_texture",
    "VARIANTS",
    "coin_colour",
    "colour_temperature_gains",
    "noise_field",
    "NOISE_UNIT",
    "vignette",
]

BACKGROUNDS: Final[tuple[str, ...]] = (
    "wood", "fabric", "paper", "carpet", "pattern", "plain", "brick", "grass", "gravel",
)  # fmt: skip
# Coin diameters in mm (configurable on the CLI by name).
# The studio draws these four (their look is modelled); diameters come from the one coin table.
COINS: Final[dict[str, float]] = {k: ALL_COINS[k] for k in ("euro_1", "us_quarter", "euro_2", "uk_pound")}
VARIANTS: Final[int] = 3  # base textures per background kind
Image = NDArray[np.float32]


def _smooth_noise(rng: np.random.Generator, h: int, w: int, cell: float) -> Image:
    """Value noise in [0, 1] with features about ``cell`` pixels wide."""
    gh, gw = max(2, int(h / cell) + 2), max(2, int(w / cell) + 2)
    g = rng.random((gh, gw)).astype(np.float32)
    return np.asarray(cv2.resize(g, (w, h), interpolation=cv2.INTER_CUBIC), np.float32)


def _fractal(rng: np.random.Generator, h: int, w: int, cell: float, octaves: int = 3) -> Image:
    out = np.zeros((h, w), np.float32)
    amp, total = 1.0, 0.0
    for _ in range(octaves):
        out += amp * _smooth_noise(rng, h, w, cell)
        total += amp
        cell, amp = max(cell / 2.0, 1.5), amp * 0.5
    return out / total


def _lerp(a: Image, c0: tuple[float, ...], c1: tuple[float, ...]) -> Image:
    c0a, c1a = np.asarray(c0, np.float32), np.asarray(c1, np.float32)
    return c0a + a[..., None] * (c1a - c0a)


def _wood(rng: np.random.Generator, h: int, w: int) -> Image:
    warp = _fractal(rng, h, w, max(h, w) / 3) * 60 + _smooth_noise(rng, h, w, 40) * 8
    y = np.arange(h, dtype=np.float32)[:, None] + warp
    period = rng.uniform(18, 40) * max(h, w) / 1000
    rings = 0.5 + 0.5 * np.sin(2 * np.pi * y / period) ** 3
    streak = cv2.resize(
        rng.random((h, max(2, w // 24))).astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR
    )
    a = np.clip(0.6 * rings + 0.4 * streak, 0, 1)
    light = (rng.uniform(0.7, 0.85), rng.uniform(0.5, 0.62), rng.uniform(0.3, 0.42))
    dark = tuple(c * rng.uniform(0.55, 0.75) for c in light)
    img = _lerp(a, light, dark)
    return img


def _fabric(rng: np.random.Generator, h: int, w: int) -> Image:
    p = rng.uniform(3, 7) * max(h, w) / 1000 + 2
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    weave = (
        0.5
        + 0.25 * np.sin(2 * np.pi * xx / p) * np.sign(np.sin(np.pi * yy / p))
        + 0.25 * np.sin(2 * np.pi * yy / p)
    )
    folds = _fractal(rng, h, w, max(h, w) / 4, 2)
    col = rng.uniform(0.15, 0.85, 3)
    a = (0.75 + 0.2 * weave) * (0.7 + 0.6 * folds)
    return (a[..., None] * col[None, None, :]).astype(np.float32)


def _paper(rng: np.random.Generator, h: int, w: int) -> Image:
    base = rng.uniform(0.82, 0.95)
    tint = np.asarray([1.0, rng.uniform(0.97, 1.0), rng.uniform(0.9, 1.0)], np.float32)
    a = base * (0.96 + 0.05 * _fractal(rng, h, w, 200)) + 0.03 * (_smooth_noise(rng, h, w, 1.5) - 0.5)
    return (a[..., None] * tint).astype(np.float32)


def _carpet(rng: np.random.Generator, h: int, w: int) -> Image:
    col = rng.uniform(0.15, 0.6, 3)
    fine = _smooth_noise(rng, h, w, 1.6)
    mid = _fractal(rng, h, w, 12, 2)
    a = 0.55 + 0.5 * fine * mid
    speck = (_smooth_noise(rng, h, w, 2.0) > 0.8)[..., None] * rng.uniform(-0.2, 0.2, 3)
    return np.clip(a[..., None] * col + speck, 0, 1).astype(np.float32)


def _pattern(rng: np.random.Generator, h: int, w: int) -> Image:
    img = np.full((h, w, 3), rng.uniform(0.75, 0.98), np.float32)
    palette = rng.uniform(0.05, 0.95, (int(rng.integers(3, 7)), 3))
    for _ in range(int(rng.integers(12, 40))):
        col = tuple(float(c) for c in palette[int(rng.integers(len(palette)))])
        kind = rng.integers(3)
        x, y = int(rng.integers(w)), int(rng.integers(h))
        s = int(rng.uniform(0.03, 0.25) * max(h, w))
        if kind == 0:
            cv2.rectangle(img, (x, y), (x + s, y + int(s * rng.uniform(0.3, 1.5))), col, -1)
        elif kind == 1:
            cv2.circle(img, (x, y), s // 2, col, -1, cv2.LINE_AA)
        else:
            cv2.line(img, (x - s, y), (x + s, y + int(rng.integers(-s, s))), col, max(2, s // 8), cv2.LINE_AA)
    return np.asarray(cv2.GaussianBlur(img, (0, 0), 1.0), np.float32)


def _plain(rng: np.random.Generator, h: int, w: int) -> Image:
    col = rng.uniform(0.1, 0.95, 3).astype(np.float32)
    gx = np.linspace(-0.5, 0.5, w, dtype=np.float32)[None, :] * rng.uniform(-0.15, 0.15)
    gy = np.linspace(-0.5, 0.5, h, dtype=np.float32)[:, None] * rng.uniform(-0.15, 0.15)
    return ((1 + gx + gy)[..., None] * col).astype(np.float32)


@lru_cache(maxsize=3)
def _skimage_texture(name: str) -> NDArray[np.float32]:
    import skimage.data

    return getattr(skimage.data, name)().astype(np.float32) / 255.0


def _photo_texture(name: str, tint: tuple[float, float, float]):
    def make(rng: np.random.Generator, h: int, w: int) -> Image:
        tex = _skimage_texture(name)
        reps = int(np.ceil(max(h, w) / (tex.shape[0] * rng.uniform(1.0, 2.0))))
        tiled = np.tile(tex, (max(reps, 1), max(reps, 1)))
        tiled = np.asarray(cv2.resize(tiled, (w, h), interpolation=cv2.INTER_LINEAR), np.float32)
        return (tiled[..., None] * np.asarray(tint, np.float32) * 1.4).astype(np.float32)

    return make


_MAKERS: Final = {
    "wood": _wood,
    "fabric": _fabric,
    "paper": _paper,
    "carpet": _carpet,
    "pattern": _pattern,
    "plain": _plain,
    "brick": _photo_texture("brick", (0.66, 0.36, 0.27)),
    "grass": _photo_texture("grass", (0.36, 0.5, 0.22)),
    "gravel": _photo_texture("gravel", (0.56, 0.53, 0.49)),
}


@lru_cache(maxsize=16)
def base_texture(kind: str, variant: int, h: int, w: int) -> Image:
    """The cached base texture ``variant`` of a background ``kind`` at (h, w), read-only."""
    seed = BACKGROUNDS.index(kind) * 1000 + variant
    img = _MAKERS[kind](np.random.default_rng(seed), h, w)
    img.setflags(write=False)
    return img


def draw_background_kind(rng: np.random.Generator) -> str:
    """The background kind a photo gets: the first draw of its generator (so a photo's kind is known without
    rendering it, :func:`core.synth.render.background_kind`)."""
    return BACKGROUNDS[int(rng.integers(len(BACKGROUNDS)))]


def background(rng: np.random.Generator, h: int, w: int, kind: str | None = None) -> tuple[Image, str]:
    """A background (H, W, 3) float32 linear RGB in [0, 1] and its kind.

    The base texture depends only on (kind, variant, size), so it is cached; the per-photo
    variation (flips, colour gains, offset) comes from ``rng``.
    """
    kind = kind or draw_background_kind(rng)
    base = base_texture(kind, int(rng.integers(VARIANTS)), h, w)
    flip = int(rng.integers(4))  # none, vertical, horizontal, both
    gains = rng.uniform(0.8, 1.15, 3)
    out = base * gains.astype(np.float32)
    if flip:
        out = np.asarray(cv2.flip(out, {1: 0, 2: 1, 3: -1}[flip]), np.float32)
    return out, kind


def colour_temperature_gains(kelvin: float) -> NDArray[np.float32]:
    """RGB gains of a light of ``kelvin`` relative to daylight (5500 K = 1, 1, 1), max channel 1."""
    table_k = [2500, 3000, 4000, 5500, 6500, 8000]
    r = np.interp(kelvin, table_k, [1.0, 1.0, 1.0, 1.0, 0.93, 0.85])
    g = np.interp(kelvin, table_k, [0.70, 0.77, 0.88, 0.98, 0.96, 0.93])
    b = np.interp(kelvin, table_k, [0.42, 0.53, 0.72, 0.94, 1.0, 1.0])
    return np.asarray([r, g, b], np.float32)


NOISE_UNIT: Final[float] = 32.0  # noise_field value of one standard deviation, around 128


@lru_cache(maxsize=4)
def noise_field(h: int, w: int) -> NDArray[np.uint8]:
    """A cached Gaussian noise field (H + 64, W + 64, 3) uint8: 128 + 32 N(0, 1), clipped.

    Photos take random crops of it and add it with ``cv2.addWeighted`` (one saturating pass).
    """
    f = np.random.default_rng(7).standard_normal((h + 64, w + 64, 3), dtype=np.float32)
    out = np.clip(128 + NOISE_UNIT * f, 0, 255).astype(np.uint8)
    out.setflags(write=False)
    return out


@lru_cache(maxsize=4)
def vignette(h: int, w: int) -> Image:
    """Radial falloff (H, W, 3) in [0, 1]: 0 at the centre, 1 at the corners."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    rr = ((xx - w / 2) / (w / 2)) ** 2 + ((yy - h / 2) / (h / 2)) ** 2
    out = np.repeat((rr / 2.0)[..., None], 3, axis=2).astype(np.float32)
    out.setflags(write=False)
    return out


def coin_colour(
    coin: str,
    xs: NDArray[np.float32],
    ys: NDArray[np.float32],
    radius: float,
    azimuth: float,
    rng: np.random.Generator,
) -> NDArray[np.float32]:
    """Colour (N, 3) of a coin at offsets (xs, ys) px from its centre: metal, rim, embossed relief."""
    rho = np.sqrt(xs * xs + ys * ys) / radius
    silver = np.asarray([0.72, 0.72, 0.70], np.float32)
    gold = np.asarray([0.80, 0.64, 0.32], np.float32)
    if coin == "euro_1":
        base = np.where((rho < 0.7)[:, None], silver, gold)
    elif coin == "euro_2":
        base = np.where((rho < 0.7)[:, None], gold, silver)
    elif coin == "uk_pound":
        base = np.broadcast_to(gold, (xs.size, 3))
    else:
        base = np.broadcast_to(silver * 0.95, (xs.size, 3))
    # Embossed relief: a few oriented waves (the design) plus a ring of 12 stars / beads near the rim.
    relief = np.zeros_like(rho)
    for _ in range(3):
        th, f, ph = rng.uniform(0, np.pi), rng.uniform(3.0, 9.0) / radius, rng.uniform(0, 6.28)
        relief += 0.03 * np.sin((xs * np.cos(th) + ys * np.sin(th)) * f + ph)
    relief *= rho < 0.78
    ang = np.arctan2(ys, xs)
    beads = (np.cos(12 * ang) > 0.85) & (np.abs(rho - 0.84) < 0.035)
    relief += 0.12 * beads
    rim = np.clip((rho - 0.9) / 0.1, 0, 1)
    edge = np.cos(np.arctan2(ys, xs) - azimuth)
    light = 0.75 + relief + rim * 0.3 * edge - 0.1 * rho
    return (base * light[:, None]).astype(np.float32)
