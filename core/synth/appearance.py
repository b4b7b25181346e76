"""Finish colours and the shading of a screw seen from above (cylinder, facets, threads, recess)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
from numpy.typing import NDArray

from core.catalog.taxonomy import FINISHES
from core.synth.profile import ScrewProfile, eye_inner_radius

__all__ = ["FinishLook", "FINISH_LOOKS", "Light", "shade_screw"]


@dataclass(frozen=True)
class FinishLook:
    """Appearance of a finish: linear RGB base colour in [0, 1], roughness in [0, 1], metal or not."""

    rgb: tuple[float, float, float]
    roughness: float
    metallic: bool = True


FINISH_LOOKS: Final[dict[str, FinishLook]] = {
    "zinc": FinishLook((0.74, 0.77, 0.83), 0.35),
    "yellow_zinc": FinishLook((0.80, 0.68, 0.30), 0.3),
    "black_oxide": FinishLook((0.10, 0.10, 0.11), 0.25),
    "plain_steel": FinishLook((0.52, 0.51, 0.49), 0.5),
    "stainless": FinishLook((0.70, 0.70, 0.69), 0.25),
    "brass": FinishLook((0.80, 0.62, 0.28), 0.25),
    "bronze": FinishLook((0.55, 0.37, 0.20), 0.4),
    "chrome": FinishLook((0.86, 0.87, 0.90), 0.05),
    "nickel": FinishLook((0.74, 0.71, 0.64), 0.15),
    "hot_dip_galvanized": FinishLook((0.60, 0.62, 0.60), 0.75),
    "copper": FinishLook((0.76, 0.42, 0.26), 0.3),
    "black_phosphate": FinishLook((0.17, 0.17, 0.17), 0.85),
    "ceramic_coated": FinishLook((0.55, 0.50, 0.37), 0.8, False),
    "black_zinc": FinishLook((0.14, 0.14, 0.16), 0.4),
    "painted_white": FinishLook((0.92, 0.92, 0.90), 0.7, False),
}
assert set(FINISH_LOOKS) == set(FINISHES)

_FACETS: Final[dict[str, int]] = {"hex": 3, "hex_washer": 3, "flanged_hex": 3, "square": 2, "twelve_point": 5}


@dataclass(frozen=True)
class Light:
    """Key light: azimuth across the screw axis (radians, 0 = from the +v side) and elevation."""

    azimuth: float
    elevation: float


def _facet(nv: NDArray[np.float32], faces: int) -> NDArray[np.float32]:
    """Quantise the cross-section normal into ``faces`` flat faces (hex, square, 12-point heads)."""
    ang = np.arcsin(nv)
    step = np.pi / faces
    q = (np.floor(ang / step + (0.5 if faces % 2 else 0.0)) - (0.5 if faces % 2 else -0.5)) * step
    return np.sin(np.clip(q, -np.pi / 2 + step / 2, np.pi / 2 - step / 2)).astype(np.float32)


def shade_screw(
    prof: ScrewProfile,
    u: NDArray[np.float32],
    v: NDArray[np.float32],
    finish: str,
    light: Light,
    px_per_mm: float,
    tint: NDArray[np.float32] | None = None,
) -> NDArray[np.float32]:
    """Colour of the screw at local points (u, v) mm.

    Returns:
        (N, 3) float32 linear RGB in [0, 1+] (highlights may exceed 1 before tone mapping).
    """
    look = FINISH_LOOKS[finish]
    rs = np.interp(u, prof.shade_u, prof.shade_r).astype(np.float32)
    nv = np.clip(v / rs, -0.999, 0.999)
    head = u < prof.head_len
    if prof.head == "eye":
        big = prof.head_radius
        inner = eye_inner_radius(big, prof.shank_radius)
        rho = np.hypot(u - big, v)
        ring = (rho - (big + inner) / 2) / ((big - inner) / 2)
        nv = np.where(head, np.clip(ring, -0.999, 0.999), nv)
    faces = _FACETS.get(prof.head)
    if faces:
        hex_zone = head & (u < prof.head_len * (0.8 if prof.head != "hex" else 1.0))
        nv = np.where(hex_zone, _facet(nv, faces), nv)
    nz = np.sqrt(1.0 - nv * nv)
    lx = np.cos(light.azimuth) * np.cos(light.elevation)
    lz = np.sin(light.elevation)
    diff = np.clip(nv * lx + nz * lz, 0.0, 1.0)
    hx = lx / np.hypot(lx, lz + 1.0)
    width = 0.06 + 0.45 * look.roughness
    spec = np.exp(-(((nv - hx) / width) ** 2)) + 0.35 * np.exp(
        -(((nv + 0.55 * hx - 0.3) / (1.5 * width)) ** 2)
    )
    base = np.asarray(look.rgb, np.float32)
    if tint is not None:
        base = base * tint
    if look.metallic:
        env = 0.25 + 0.75 * nz**1.5
        shade = (0.25 + 0.55 * diff) * env
        ks = 0.9 * (1.0 - 0.6 * look.roughness)
        spec_rgb = 0.5 * base + 0.5
    else:
        shade = 0.3 + 0.7 * diff
        ks = 0.25 * (1.0 - look.roughness)
        spec_rgb = np.ones(3, np.float32)
    f = np.ones_like(u)
    thr = (u >= prof.thread_u0) & (u <= prof.thread_u1) & ~head
    if prof.pitch * px_per_mm >= 1.5:
        phase = (u - prof.thread_u0 + nv * prof.pitch / 4) / prof.pitch
        f = np.where(thr, 0.72 + 0.28 * (0.5 + 0.5 * np.cos(2 * np.pi * phase)), f)
    else:
        f = np.where(thr, 0.85, f)
    if prof.drive != "none" and prof.head not in ("eye", "wing"):
        w = {"slot": 0.14, "cross": 0.24, "hex_socket": 0.5, "square": 0.3}[prof.drive] * prof.head_radius
        depth = (0.5 if prof.drive == "hex_socket" else 0.35) * prof.head_len
        recess = (u < depth) & (np.abs(v) < w)
        f = np.where(recess, 0.22 + 0.25 * (u / depth), f)
    if prof.head == "knurled":
        f = np.where(head & (u < 0.75 * prof.head_len), 0.75 + 0.25 * np.cos(np.arcsin(nv) * 28), f)
    if finish == "hot_dip_galvanized":
        f = f * (1.0 + 0.12 * np.sin(u * 5.1 + 2.0 * np.sin(v * 3.3)) * np.sin(v * 7.7 + u * 2.3))
    rgb = base[None, :] * (shade * f)[:, None] + spec_rgb[None, :] * (ks * spec * f)[:, None]
    if finish == "yellow_zinc":  # iridescent chromate: hue drifts along the part
        drift = 0.07 * np.sin(u * 0.8 + v * 1.7)
        rgb[:, 0] += drift
        rgb[:, 2] -= drift
    return rgb.astype(np.float32)
