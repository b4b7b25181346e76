"""The photo studio: render one phone-like photo of a screw (and/or a coin) with exact ground truth."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Final, Literal

import cv2
import numpy as np
from numpy.typing import NDArray

from core.catalog.catalog import SKU, CatalogArrays
from core.errors import ConfigError
from core.synth.appearance import Light, shade_screw
from core.synth.distractors import add_distractors
from core.synth.objects import Sprite, cast_shadow, composite, full_alpha, rasterise
from core.synth.profile import build_profile
from core.synth.scene import (
    COINS,
    NOISE_UNIT,
    background,
    coin_colour,
    colour_temperature_gains,
    noise_field,
    vignette,
)

__all__ = [
    "GENERATOR_VERSION",
    "PhotoKind",
    "StudioConfig",
    "SynthPhoto",
    "render_photo",
    "background_kind",
    "pick_sku",
    "head_side_of",
]

GENERATOR_VERSION: Final[str] = "fvw-synth-2"  # 2: angle_deg in the project convention
PhotoKind = Literal["screw_coin", "screw", "coin"]
_COIN_VERTS: Final[int] = 96


@dataclass(frozen=True)
class StudioConfig:
    """Photo studio settings.

    Attributes:
        width, height: output size in pixels.
        coin: a name of :data:`core.synth.scene.COINS` or ``"random"``.
        coin_fraction: range of the coin's diameter as a fraction of the image width.
        perspective: maximum corner displacement of the tilt, as a fraction of the short side.
        distractor_prob, finger_prob: chance of a distractor object / fingers in a photo.
        degrade: blur, sensor noise and JPEG artefacts (off gives clean renders for tests).
        keep_masks: also return the renderer's own coverage masks (for tests).
    """

    width: int = 1280
    height: int = 960
    coin: str = "random"
    coin_fraction: tuple[float, float] = (0.08, 0.25)
    perspective: float = 0.05
    distractor_prob: float = 0.3
    finger_prob: float = 0.15
    degrade: bool = True
    keep_masks: bool = False

    def __post_init__(self) -> None:
        if not (32 <= self.width <= 8192 and 32 <= self.height <= 8192):
            raise ConfigError(f"image size {self.width}x{self.height} outside 32..8192", field="width")
        if self.coin != "random" and self.coin not in COINS:
            raise ConfigError(f"unknown coin {self.coin!r}; valid: random, {', '.join(COINS)}", field="coin")


@dataclass
class SynthPhoto:
    """One rendered photo.

    Attributes:
        image: (H, W, 3) uint8 RGB, exactly the decoded ``jpeg`` when degraded.
        jpeg: the encoded JPEG bytes (None when ``degrade`` is off: write PNG then).
        screw_polygon, coin_polygon: (N, 2) XY pixel polygons (None when absent).
        sku: the SKU shown (None for coin-only photos).
        meta: the ``fvw`` ground-truth dict (see :func:`render_photo`).
        screw_mask, coin_mask: the renderer's coverage (H, W) float32 in [0, 1] if ``keep_masks``.
    """

    image: NDArray[np.uint8]
    jpeg: bytes | None
    screw_polygon: NDArray[np.float64] | None
    coin_polygon: NDArray[np.float64] | None
    sku: SKU | None
    meta: dict[str, Any]
    screw_mask: NDArray[np.float32] | None = None
    coin_mask: NDArray[np.float32] | None = None


def head_side_of(angle_deg: float) -> str:
    """Image side the head points to, for a project-convention angle (clockwise from image-up).

    top for angle in [315, 45), right [45, 135), bottom [135, 225), left [225, 315).
    """
    a = angle_deg % 360.0
    if a >= 315 or a < 45:
        return "top"
    if a < 135:
        return "right"
    if a < 225:
        return "bottom"
    return "left"


def pick_sku(arrays: CatalogArrays, rng: np.random.Generator, short: bool = False) -> SKU:
    """A random SKU; ``short`` restricts to screws whose length is at most 1.5 head diameters."""
    if short:
        from core.catalog.geometry import HEAD_GEOMETRY
        from core.catalog.taxonomy import HEADS

        ratio = np.asarray([HEAD_GEOMETRY[h].diameter for h in HEADS], np.float32)[arrays.head_idx]
        rows = np.flatnonzero(arrays.length_mm <= 1.5 * ratio * arrays.diameter_mm)
        return arrays.sku(int(rows[int(rng.integers(rows.size))]))
    return arrays.sku(int(rng.integers(len(arrays))))


def _place_screw(sku: SKU, rng: np.random.Generator, cfg: StudioConfig, s: float, margin: float):
    w, h = cfg.width, cfg.height
    prof = build_profile(sku, s)
    a = rng.uniform(-math.pi, math.pi)
    eu = np.asarray([math.cos(a), math.sin(a)])
    ev = np.asarray([-math.sin(a), math.cos(a)])
    local = (prof.polygon[:, :1] - prof.total_len / 2) * s * eu + prof.polygon[:, 1:] * s * ev
    lo, hi = local.min(0), local.max(0)
    span = hi - lo
    fit = min((w - 2 * margin) / span[0], (h - 2 * margin) / span[1])
    if fit < 1.0:
        return None, fit
    cx = rng.uniform(margin - lo[0], w - margin - hi[0])
    cy = rng.uniform(margin - lo[1], h - margin - hi[1])
    return (prof, eu, ev, np.asarray([cx, cy]), local + [cx, cy]), fit


def background_kind(seed: int) -> str:
    """The background kind :func:`render_photo` draws for a photo ``seed`` (its first random draw), without
    rendering it: datasets select photos by background with it (:func:`core.synth.dataset.matching_indices`)."""
    from core.synth.scene import draw_background_kind

    return draw_background_kind(np.random.default_rng(seed))


def render_photo(
    sku: SKU | None, seed: int, config: StudioConfig | None = None, kind: PhotoKind = "screw_coin"
) -> SynthPhoto:
    """Render one photo, deterministic for (sku, seed, config, kind).

    Ground truth ``meta`` (stored as the labelme top-level key ``fvw``): ``sku_id``; ``px_per_mm``,
    the nominal scale on the surface before the perspective tilt; ``angle_deg``, the direction from
    the tip to the head after the tilt in the project convention (docs/GLOSSARY.md): degrees clockwise
    from image-up in [0, 360), so 0 = head above the tip, 90 = head to the right; ``head_side`` (:func:`head_side_of`); ``head_xy`` / ``tip_xy`` pixels; ``coin``
    with ``type``, ``diameter_mm``, ``center`` [x, y] and ``radius_px`` (after the tilt, mean radius);
    the scene's ``background``, ``kelvin`` and ``seed``; ``generator_version``.

    Args:
        sku: the screw to draw; required unless ``kind == "coin"``.
        seed: random seed of everything in the photo.
        config: studio settings (default :class:`StudioConfig`).
        kind: ``screw_coin`` (search input), ``screw`` or ``coin`` (training singles).
    """
    cfg = config or StudioConfig()
    if kind not in ("screw_coin", "screw", "coin"):
        raise ConfigError(f"unknown photo kind {kind!r}; valid: screw_coin, screw, coin", field="kind")
    if sku is None and kind != "coin":
        raise ConfigError(f"a {kind} photo needs a SKU", field="sku")
    rng = np.random.default_rng(seed)
    w, h = cfg.width, cfg.height
    margin = 0.04 * min(w, h)
    img, bg_kind = background(rng, h, w)
    coin_name = cfg.coin if cfg.coin != "random" else list(COINS)[int(rng.integers(len(COINS)))]
    coin_d = COINS[coin_name]
    if kind == "screw":
        s = rng.uniform(0.3, 0.85) * min(w, h) / max(sku.length_mm * 1.2, 1.0)  # type: ignore[union-attr]
    else:
        s = rng.uniform(*cfg.coin_fraction) * w / coin_d
    placed = None
    screw_poly = None
    coin_c = None
    coin_r = coin_d / 2 * s
    for _ in range(12):  # place the screw, then the coin clear of it; shrink the scale if crowded
        coin_r = coin_d / 2 * s
        if kind != "coin":
            assert sku is not None
            placed, fit = _place_screw(sku, rng, cfg, s, margin * (3 if kind == "screw_coin" else 1))
            if placed is None:
                s *= min(fit, 0.95)
                continue
            screw_poly = placed[4]
        if kind == "screw":
            break
        for _ in range(60):
            c = rng.uniform([coin_r + margin, coin_r + margin], [w - coin_r - margin, h - coin_r - margin])
            if screw_poly is None or cv2.pointPolygonTest(
                screw_poly.astype(np.float32), (float(c[0]), float(c[1])), True
            ) < -(coin_r + 0.015 * min(w, h)):
                coin_c = c
                break
        if coin_c is not None:
            break
        s *= 0.85
    if (kind != "coin" and placed is None) or (kind != "screw" and coin_c is None):
        raise ConfigError(f"could not lay out a {kind} photo at {w}x{h}; use a larger image", field="width")
    # Light and shadows.
    light_az = rng.uniform(-math.pi, math.pi)
    elevation = rng.uniform(0.5, 1.3)
    shadow_len = (1.0 / math.tan(elevation)) * rng.uniform(0.6, 1.2)
    sigma = rng.uniform(1.5, 6.0) * s / 6
    strength = rng.uniform(0.25, 0.6)
    obstacles: list[tuple[NDArray[np.float64], float]] = []
    if coin_c is not None:
        obstacles.append((coin_c, coin_r))
    sprites: list[tuple[Sprite, Any]] = []
    screw_sp = coin_sp = None
    coin_poly = None
    if placed is not None and sku is not None:
        prof, eu, ev, centre, poly = placed
        screw_sp = rasterise([poly], h, w)
        rel_az = light_az - math.atan2(ev[1], ev[0])
        light = Light(rel_az, elevation)
        tint = rng.uniform(0.93, 1.07, 3).astype(np.float32)

        def screw_colour(xs: NDArray[np.float32], ys: NDArray[np.float32]) -> NDArray[np.float32]:
            dx, dy = xs - centre[0], ys - centre[1]
            u = ((dx * eu[0] + dy * eu[1]) / s + prof.total_len / 2).astype(np.float32)
            v = ((dx * ev[0] + dy * ev[1]) / s).astype(np.float32)
            return shade_screw(prof, u, v, sku.finish, light, s, tint)

        if screw_sp is not None:
            sprites.append((screw_sp, screw_colour))
    if coin_c is not None:
        t = np.linspace(0, 2 * np.pi, _COIN_VERTS, endpoint=False)
        coin_poly = np.stack([coin_c[0] + coin_r * np.cos(t), coin_c[1] + coin_r * np.sin(t)], 1)
        coin_sp = rasterise([coin_poly], h, w)
        crng = np.random.default_rng(seed + 1)
        cc, cr = coin_c, coin_r

        def coin_col(xs: NDArray[np.float32], ys: NDArray[np.float32]) -> NDArray[np.float32]:
            return coin_colour(coin_name, xs - cc[0], ys - cc[1], cr, light_az, crng)

        if coin_sp is not None:
            sprites.append((coin_sp, coin_col))
    extra_sprites = add_distractors(rng, h, w, s, screw_poly, obstacles, cfg.distractor_prob, cfg.finger_prob)
    sprites = extra_sprites + sprites
    for sp, _ in sprites:
        dx, dy = -math.cos(light_az) * shadow_len * 3 * s, -math.sin(light_az) * shadow_len * 3 * s
        cast_shadow(img, sp, dx * 0.3, dy * 0.3, sigma, strength)
    for sp, colour in sprites:
        composite(img, sp, colour)
    # Light colour and intensity, vignetting.
    kelvin = float(rng.uniform(2700, 7500))
    wb = rng.uniform(0.0, 0.7)  # partial auto white balance of the phone
    gains = colour_temperature_gains(kelvin)
    gains = (1 - wb) * gains + wb * gains.mean()
    gains = gains * rng.uniform(0.65, 1.3) / max(float(gains.max()), 1e-6)
    img = img * gains.astype(np.float32)
    img = np.asarray(
        cv2.scaleAdd(cv2.multiply(img, vignette(h, w)), -rng.uniform(0.0, 0.45), img), np.float32
    )
    # 8-bit from here on (as a phone's pipeline): saturating conversion, cheaper camera effects.
    out = cv2.convertScaleAbs(img, alpha=255.0)
    # Camera: perspective tilt, blur, noise, JPEG.
    jit = rng.uniform(-cfg.perspective, cfg.perspective, (4, 2)) * min(w, h)
    src = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float32)
    homog = cv2.getPerspectiveTransform(src, (src + jit).astype(np.float32))
    out = cv2.warpPerspective(out, homog, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT101)

    def warp_pts(p: NDArray[np.float64] | None) -> NDArray[np.float64] | None:
        if p is None:
            return None
        q = cv2.perspectiveTransform(p.reshape(-1, 1, 2).astype(np.float64), homog).reshape(-1, 2)
        return np.clip(q, 0, [w - 1, h - 1])

    screw_mask = coin_mask = None
    if cfg.keep_masks:
        screw_mask = np.asarray(cv2.warpPerspective(full_alpha(screw_sp, h, w), homog, (w, h)), np.float32)
        coin_mask = np.asarray(cv2.warpPerspective(full_alpha(coin_sp, h, w), homog, (w, h)), np.float32)
    jpeg = None
    if cfg.degrade:
        if rng.random() < 0.6:
            out = cv2.GaussianBlur(out, (0, 0), rng.uniform(0.4, 1.6))
        elif rng.random() < 0.3:
            k = int(rng.integers(3, 9))
            kern = np.zeros((k, k), np.float32)
            cv2.line(kern, (0, int(rng.integers(k))), (k - 1, int(rng.integers(k))), 1.0, 1)
            out = cv2.filter2D(out, -1, kern / kern.sum())
        nf = noise_field(h, w)
        oy, ox = int(rng.integers(64)), int(rng.integers(64))
        a = rng.uniform(0.004, 0.03) * 255.0 / NOISE_UNIT  # noise sigma 0.4-3 % of full scale
        out = cv2.addWeighted(out, 1.0, nf[oy : oy + h, ox : ox + w], a, -128.0 * a)
        q = int(rng.integers(45, 96))
        ok, buf = cv2.imencode(".jpg", cv2.cvtColor(out, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, q])
        assert ok
        jpeg = buf.tobytes()
        decoded = cv2.imdecode(buf, cv2.IMREAD_COLOR)
        assert decoded is not None  # we just encoded it
        out = cv2.cvtColor(decoded, cv2.COLOR_BGR2RGB)
    meta: dict[str, Any] = {
        "sku_id": sku.id if sku is not None and kind != "coin" else None,
        "px_per_mm": round(float(s), 4),
        "kind": kind,
        "background": bg_kind,
        "kelvin": round(kelvin),
        "seed": int(seed),
        "generator_version": GENERATOR_VERSION,
    }
    screw_out = warp_pts(screw_poly)
    if placed is not None and sku is not None:
        prof, eu, _, centre, _ = placed
        ends = np.stack([centre + eu * (-prof.total_len / 2) * s, centre + eu * (prof.total_len / 2) * s])
        head_xy, tip_xy = warp_pts(ends)  # type: ignore[misc]
        # Project convention (docs/GLOSSARY.md): clockwise from image-up, in [0, 360).
        ang = math.degrees(math.atan2(head_xy[0] - tip_xy[0], -(head_xy[1] - tip_xy[1]))) % 360.0
        meta.update(
            angle_deg=round(ang, 3),
            head_side=head_side_of(ang),
            head_xy=[round(float(x), 2) for x in head_xy],
            tip_xy=[round(float(x), 2) for x in tip_xy],
            length_mm=sku.length_mm,
            diameter_mm=sku.diameter_mm,
        )
    coin_out = warp_pts(coin_poly)
    if coin_out is not None:
        cen = coin_out.mean(0)
        meta["coin"] = {
            "type": coin_name,
            "diameter_mm": coin_d,
            "center": [round(float(cen[0]), 2), round(float(cen[1]), 2)],
            "radius_px": round(float(np.linalg.norm(coin_out - cen, axis=1).mean()), 2),
        }
    return SynthPhoto(
        np.asarray(out, np.uint8),
        jpeg,
        screw_out,
        coin_out,
        sku if kind != "coin" else None,
        meta,
        screw_mask,
        coin_mask,
    )
