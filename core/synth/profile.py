"""A screw as a 2D side-view profile in millimetres, built from its SKU.

Local frame: ``u`` runs along the axis from the top of the head (u = 0) to the tip (u = total_mm);
``v`` runs across the axis (positive = "upper" side). The outline is one closed polygon in (u, v).
Head silhouettes follow :mod:`core.catalog.geometry`; threads are a zig-zag outline with the pitch of
a coarse metric thread (machine tips) or a wood-screw thread (gimlet, needle, type 17, type F tips).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
from numpy.typing import NDArray

from core.catalog.catalog import SKU
from core.catalog.geometry import HEAD_GEOMETRY, THREAD_FRACTION

__all__ = ["ScrewProfile", "build_profile", "eye_inner_radius", "overall_length_mm", "WOOD_TIPS"]

WOOD_TIPS: Final[frozenset[str]] = frozenset({"sharp", "needle", "type_17", "type_f"})
_Pts = list[tuple[float, float]]


@dataclass(frozen=True)
class ScrewProfile:
    """Outline and shading data of one screw in mm.

    Attributes:
        polygon: (N, 2) closed outline in (u, v) mm.
        shade_u, shade_r: the smooth half-width r(u) (without thread teeth) for cylinder shading.
        head_len: u where the shank starts (bearing face; inside the length for countersunk heads).
        total_len: u of the tip end.
        thread_u0, thread_u1: the threaded span; pitch: thread pitch in mm.
        head, tip, drive: SKU head/tip values and the drive recess drawn on the head top.
        head_radius: nominal head radius in mm; shank_radius: nominal d / 2.
    """

    polygon: NDArray[np.float64]
    shade_u: NDArray[np.float64]
    shade_r: NDArray[np.float64]
    head_len: float
    total_len: float
    thread_u0: float
    thread_u1: float
    pitch: float
    head: str
    tip: str
    drive: str
    head_radius: float
    shank_radius: float


def _ellipse(u0: float, u1: float, r0: float, r1: float, n: int = 7) -> _Pts:
    """Quarter ellipse from (u0, r0) to (u1, r1), convex outwards (dome shoulders)."""
    t = np.linspace(0.0, np.pi / 2, n)
    return [(u0 + (u1 - u0) * (1 - np.cos(x)), r0 + (r1 - r0) * np.sin(x)) for x in t]


def _head(head: str, big_r: float, h: float, r: float) -> _Pts:
    """Upper half-outline of the head from its top (u = 0) to the bearing face (u = h)."""
    if head in ("flat", "flat_socket", "trim"):
        return [(0, big_r), (0.12 * h, big_r), (h, r)]
    if head == "oval":
        return [*_ellipse(0, 0.35 * h, 0.55 * big_r, big_r), (h, r)]
    if head == "bugle":
        t = np.linspace(0, 1, 8)
        return [(0, big_r), *[(0.1 * h + 0.9 * h * x, r + (big_r - r) * (1 - x) ** 2) for x in t]]
    if head in ("pan", "sems_pan", "binding"):
        pts = [*_ellipse(0, 0.35 * h, 0.7 * big_r, big_r), (h, big_r)]
        if head == "sems_pan":  # captive washer under the head
            pts = [
                *_ellipse(0, 0.3 * h, 0.6 * big_r, 0.83 * big_r),
                (0.8 * h, 0.83 * big_r),
                (0.8 * h, big_r),
                (h, big_r),
            ]
        return pts
    if head == "round":
        t = np.linspace(0, 1, 9)
        return [(h * x, big_r * np.sqrt(1 - (1 - x) ** 2) + 0.03 * big_r) for x in t] + [(h, big_r)]
    if head in ("truss", "mushroom", "button", "button_socket"):
        t = np.linspace(0, 1, 9)
        top = 0.2 if head in ("button", "button_socket") else 0.1
        return [(0.85 * h * x, big_r * (top + (1 - top) * np.sqrt(1 - (1 - x) ** 2))) for x in t] + [
            (h, big_r)
        ]
    if head == "flange_button":
        t = np.linspace(0, 1, 8)
        dome = [(0.7 * h * x, 0.8 * big_r * (0.2 + 0.8 * np.sqrt(1 - (1 - x) ** 2))) for x in t]
        return [*dome, (0.7 * h, big_r), (h, big_r)]
    if head in ("pancake", "wafer"):
        return [*_ellipse(0, 0.6 * h, 0.75 * big_r, big_r), (h, big_r)]
    if head in ("hex", "square", "twelve_point"):
        return [(0, 0.85 * big_r), (0.15 * h, big_r), (h, big_r)]
    if head == "hex_washer":
        return [
            (0, 0.65 * big_r),
            (0.12 * h, 0.75 * big_r),
            (0.8 * h, 0.75 * big_r),
            (0.8 * h, big_r),
            (h, big_r),
        ]
    if head == "flanged_hex":
        return [
            (0, 0.65 * big_r),
            (0.12 * h, 0.75 * big_r),
            (0.7 * h, 0.75 * big_r),
            (0.85 * h, big_r),
            (h, big_r),
        ]
    if head in ("socket_cap", "low_socket", "shoulder", "cheese", "t_head"):
        return [(0, 0.9 * big_r), (0.08 * h, big_r), (h, big_r)]
    if head == "fillister":
        return [*_ellipse(0, 0.25 * h, 0.8 * big_r, big_r), (h, big_r)]
    if head == "carriage":
        return [*_ellipse(0, 0.55 * h, 0.25 * big_r, big_r, 9), (0.55 * h, 1.2 * r), (h, 1.2 * r)]
    if head == "wing":
        t = np.linspace(0, 1, 11)
        lobe = [(0.8 * h * x, 0.3 * big_r + 0.7 * big_r * np.sin(np.pi * x) ** 0.7) for x in t]
        return [*lobe, (0.8 * h, 0.35 * big_r), (h, 0.35 * big_r)]
    if head == "thumb":
        return [
            *_ellipse(0, 0.2 * h, 0.85 * big_r, big_r),
            (0.65 * h, big_r),
            (0.65 * h, 0.45 * big_r),
            (h, 0.45 * big_r),
        ]
    if head == "knurled":
        return [
            (0, 0.92 * big_r),
            (0.08 * h, big_r),
            (0.75 * h, big_r),
            (0.8 * h, 0.5 * big_r),
            (h, 0.5 * big_r),
        ]
    raise AssertionError(f"no silhouette for head {head!r}")  # eye is built separately


# Tip outlines: (distance from the tip start in diameters, radius fraction); the end is flat unless
# the last radius is ~0.
_TIPS: Final[dict[str, tuple[tuple[float, float], ...]]] = {
    "sharp": ((0, 1), (1.4, 0.03)),
    "needle": ((0, 1), (2.2, 0.02)),
    "cone": ((0, 1), (0.6, 0.05)),
    "blunt": ((0, 1), (0.25, 0.8), (0.35, 0.7)),
    "flat": ((0, 1), (0.12, 0.85)),
    "self_drilling": ((0, 1), (0.05, 0.8), (1.1, 0.8), (1.45, 0.03)),
    "type_17": ((0, 1), (0.5, 0.75), (0.62, 0.35), (0.9, 0.4), (1.4, 0.03)),
    "dog_point": ((0, 1), (0.08, 0.65), (0.55, 0.65), (0.6, 0.55)),
    "half_dog_point": ((0, 1), (0.08, 0.65), (0.28, 0.65), (0.32, 0.55)),
    "cup_point": ((0, 1), (0.15, 0.75)),
    "oval_point": ((0, 1), (0.08, 0.95), (0.16, 0.8), (0.22, 0.55), (0.26, 0.05)),
    "type_f": ((0, 1), (0.5, 0.78)),
}


def eye_inner_radius(big_r: float, r: float) -> float:
    """Hole radius of an eye (ring) head of outer radius ``big_r`` on a shank of radius ``r``."""
    return max(big_r - 1.8 * r, 0.3 * big_r)


def _eye_polygon(big_r: float, r: float, u_join: float) -> tuple[_Pts, _Pts]:
    """Ring head as a keyhole polygon (outer circle, slit, inner circle), upper and lower parts."""
    inner = eye_inner_radius(big_r, r)
    c = big_r
    phi_j = np.arccos(np.clip((u_join - c) / big_r, -1, 1))
    a_up = np.linspace(np.pi, phi_j, 16)  # from the far point (u=0) round the upper side to the join
    upper = [(c + big_r * np.cos(a), big_r * np.sin(a)) for a in a_up]
    b = np.linspace(np.pi, -np.pi, 24)  # inner circle, full turn, entered through a slit at u = c - inner
    hole = [(c + inner * np.cos(x), -inner * np.sin(x)) for x in b]
    upper = [(0.0, 0.0), *hole, (0.0, 0.0), *upper[1:]]
    lower = [(c + big_r * np.cos(a), -big_r * np.sin(a)) for a in a_up[1:]]
    return upper, lower


def _head_and_total(sku: SKU) -> tuple[float, float]:
    """(head length, head-to-tip length) of the drawn screw in mm."""
    d = sku.diameter_mm
    geo = HEAD_GEOMETRY[sku.head]
    h = geo.height * d
    if sku.head == "eye":
        r = d / 2
        head_len = 2 * geo.diameter * r - 0.3 * r  # the ring's outer diameter, less where the shank joins it
        return head_len, head_len + sku.length_mm
    if geo.countersunk:
        return h, max(sku.length_mm, h + 0.5 * d)
    return h, h + sku.length_mm


def overall_length_mm(sku: SKU) -> float:
    """Head-to-tip length of the screw the studio draws for ``sku``, in mm (the catalog's length is nominal:
    under the head, except for countersunk heads)."""
    return _head_and_total(sku)[1]


def build_profile(sku: SKU, px_per_mm: float = 10.0) -> ScrewProfile:
    """Outline of ``sku`` in mm; thread teeth are drawn only when the pitch spans >= 3 pixels.

    Args:
        sku: the screw (head, tip, thread coverage, length and diameter are used).
        px_per_mm: the scale it will be drawn at (decides whether teeth are resolvable).
    """
    d = sku.diameter_mm
    r = d / 2
    geo = HEAD_GEOMETRY[sku.head]
    big_r = geo.diameter * r
    h = geo.height * d
    wood = sku.tip in WOOD_TIPS
    pitch = 0.42 * d if wood else 0.125 * d + 0.1
    depth = (0.36 if wood else 0.3) * pitch
    head_len, total = _head_and_total(sku)
    spec = _TIPS[sku.tip]
    tip_len = min(spec[-1][0] * d, 0.6 * (total - head_len))
    tip_u0 = total - tip_len
    frac = THREAD_FRACTION[sku.thread]
    thread_u0 = total - frac * (total - head_len)
    thread_u1 = total if wood else tip_u0
    thread_u0 = min(thread_u0, thread_u1)
    r_shank = 1.25 * r if sku.head == "shoulder" else (r - 0.5 * depth if wood else r)

    # Base (toothless) radius along the shank: shank, then the tip taper.
    base_u = [head_len, tip_u0] + [tip_u0 + x / spec[-1][0] * tip_len for x, _ in spec[1:]]
    base_r = [r_shank, r_shank] + [r * f for _, f in spec[1:]]
    if sku.head == "shoulder" or thread_u0 < tip_u0:  # ground shoulder steps down to the thread
        base_u.insert(1, thread_u0)
        base_r.insert(1, r_shank)
        base_u.insert(2, thread_u0 + 1e-3)
        base_r.insert(2, r)
    if thread_u0 < tip_u0:
        br_tip = base_u.index(tip_u0)
        base_r[br_tip] = r
    bu = np.asarray(base_u)
    br = np.asarray(base_r)
    teeth = thread_u1 - thread_u0 > pitch and pitch * px_per_mm >= 3.0

    def shank_side(phase: float) -> _Pts:
        us = list(bu)
        if teeth:
            k = np.arange(
                np.ceil((thread_u0 - phase) / (pitch / 2)), np.floor((thread_u1 - phase) / (pitch / 2)) + 1
            )
            us += list(phase + k * pitch / 2)
        us_arr = np.unique(np.clip(np.asarray(us), head_len, total))
        rad = np.interp(us_arr, bu, br)
        if teeth:
            halfsteps = np.rint((us_arr - phase) / (pitch / 2)).astype(int)
            on_grid = np.abs((us_arr - phase) - halfsteps * pitch / 2) < 1e-6
            valley = on_grid & (halfsteps % 2 == 0) & (us_arr >= thread_u0) & (us_arr <= thread_u1)
            rad = np.where(valley, np.maximum(rad - depth * rad / r, 0.02 * r), rad)
        return list(zip(us_arr.tolist(), rad.tolist(), strict=True))

    if sku.head == "eye":
        up_head, low_head = _eye_polygon(big_r, r, head_len)
        shade_head = [(0.0, big_r), (head_len, big_r)]
    else:
        up_head = _head(sku.head, big_r, h, r)
        low_head = [(u, -v) for u, v in up_head]
        shade_head = up_head
    upper = up_head + shank_side(0.0)
    lower = low_head + [(u, -v) for u, v in shank_side(pitch / 4)]
    end: _Pts = []
    if sku.tip == "cup_point":  # concave cup at the end
        end = [(total - 0.08 * d, 0.3 * r), (total - 0.08 * d, -0.3 * r)]
    poly = np.asarray(upper + end + lower[::-1], dtype=np.float64)
    su = np.asarray([p[0] for p in shade_head] + bu.tolist())
    sr = np.asarray([p[1] for p in shade_head] + br.tolist())
    su = su + np.arange(su.size) * 1e-6  # strictly increasing for np.interp
    return ScrewProfile(
        polygon=poly,
        shade_u=su,
        shade_r=np.maximum(sr, 0.02 * r),
        head_len=head_len,
        total_len=total,
        thread_u0=thread_u0,
        thread_u1=thread_u1,
        pitch=pitch,
        head=sku.head,
        tip=sku.tip,
        drive=geo.drive,
        head_radius=big_r,
        shank_radius=r,
    )
