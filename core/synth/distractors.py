"""Distractor objects (washer, nut, pen, pebble) and fingers, placed clear of the screw and coin."""

from __future__ import annotations

import math
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

from core.synth.objects import Sprite, rasterise

__all__ = ["add_distractors"]

_SKIN = ((0.87, 0.67, 0.55), (0.76, 0.55, 0.42), (0.55, 0.37, 0.26), (0.93, 0.77, 0.66), (0.40, 0.26, 0.18))


def _free(
    c: NDArray[np.float64], r: float, screw: NDArray[np.float64] | None, obstacles: list, gap: float
) -> bool:
    if screw is not None:
        d = cv2.pointPolygonTest(screw.astype(np.float32), (float(c[0]), float(c[1])), True)
        if d > -(r + gap):
            return False
    return all(np.hypot(*(c - oc)) > r + orad + gap for oc, orad in obstacles)


def _circle(c: NDArray[np.float64], r: float, n: int = 48) -> NDArray[np.float64]:
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    return np.stack([c[0] + r * np.cos(t), c[1] + r * np.sin(t)], 1)


def _flat_colour(rgb: NDArray[np.float32], c: NDArray[np.float64], r: float, az: float):
    def colour(xs: NDArray[np.float32], ys: NDArray[np.float32]) -> NDArray[np.float32]:
        g = ((xs - c[0]) * math.cos(az) + (ys - c[1]) * math.sin(az)) / max(r, 1.0)
        return (rgb[None, :] * (0.85 + 0.2 * g)[:, None]).astype(np.float32)

    return colour


def _finger(
    rng: np.random.Generator, h: int, w: int, s: float
) -> tuple[NDArray[np.float64], NDArray[np.float64], float, NDArray[np.float64]]:
    """A finger entering from an image edge: (polygon, tip centre, half width, direction)."""
    half = min(8.5 * s, 0.09 * min(h, w))
    length = rng.uniform(0.2, 0.35) * max(h, w)
    side = int(rng.integers(4))
    t = rng.uniform(0.2, 0.8)
    start, normal = [
        (np.array([t * w, -half]), np.array([0.0, 1.0])),
        (np.array([w + half, t * h]), np.array([-1.0, 0.0])),
        (np.array([t * w, h + half]), np.array([0.0, -1.0])),
        (np.array([-half, t * h]), np.array([1.0, 0.0])),
    ][side]
    a = rng.uniform(-0.6, 0.6)
    d = np.array(
        [normal[0] * math.cos(a) - normal[1] * math.sin(a), normal[0] * math.sin(a) + normal[1] * math.cos(a)]
    )
    tip = start + d * length
    perp = np.array([-d[1], d[0]])
    arc = np.linspace(-np.pi / 2, np.pi / 2, 16)
    cap = [tip + half * (math.cos(x) * d + math.sin(x) * perp) for x in arc]
    poly = np.asarray([start - perp * half * 1.05, *cap[::-1][::-1], start + perp * half * 1.05])
    return poly, tip, half, d


def add_distractors(
    rng: np.random.Generator,
    h: int,
    w: int,
    s: float,
    screw: NDArray[np.float64] | None,
    obstacles: list[tuple[NDArray[np.float64], float]],
    p_distractor: float,
    p_finger: float,
) -> list[tuple[Sprite, Any]]:
    """Sprites (with colour functions) of 0-2 distractors and maybe fingers, none touching the objects."""
    out: list[tuple[Sprite, Any]] = []
    gap = 0.02 * min(h, w)
    if rng.random() < p_distractor:
        for _ in range(int(rng.integers(1, 3))):
            kind = ("washer", "nut", "pen", "pebble")[int(rng.integers(4))]
            r = float(rng.uniform(4, 12) * s) if kind != "pen" else float(rng.uniform(30, 60) * s)
            r = min(r, 0.3 * min(h, w))
            for _ in range(30):
                c = rng.uniform([0, 0], [w, h])
                if _free(c, r, screw, obstacles, gap):
                    break
            else:
                continue
            obstacles.append((c, r))
            az = rng.uniform(-np.pi, np.pi)
            if kind == "washer":
                polys = [_circle(c, r), _circle(c, r * rng.uniform(0.35, 0.55))]
                rgb = np.asarray([0.7, 0.71, 0.72], np.float32) * rng.uniform(0.6, 1.1)
            elif kind == "nut":
                t = np.linspace(0, 2 * np.pi, 6, endpoint=False) + az
                polys = [np.stack([c[0] + r * np.cos(t), c[1] + r * np.sin(t)], 1), _circle(c, r * 0.5)]
                rgb = np.asarray([0.62, 0.62, 0.6], np.float32) * rng.uniform(0.4, 1.1)
            elif kind == "pen":
                d = np.array([math.cos(az), math.sin(az)])
                p = np.array([-d[1], d[0]]) * r * 0.09
                polys = [np.asarray([c - d * r + p, c + d * r + p, c + d * r - p, c - d * r - p])]
                rgb = rng.uniform(0.05, 0.9, 3).astype(np.float32)
            else:
                t = np.linspace(0, 2 * np.pi, 24, endpoint=False)
                rr = r * 0.5 * (1 + 0.25 * np.sin(3 * t + az) + 0.1 * rng.standard_normal(24))
                polys = [np.stack([c[0] + rr * np.cos(t), c[1] + rr * np.sin(t)], 1)]
                rgb = rng.uniform(0.2, 0.7) * np.asarray([1.0, 0.95, 0.88], np.float32)
            sp = rasterise(polys, h, w)
            if sp is not None:
                out.append((sp, _flat_colour(rgb, c, r, az)))
    if rng.random() < p_finger:
        for _ in range(15):
            poly, tip, half, d = _finger(rng, h, w, s)
            pts = [tip - d * k * half * 1.5 for k in range(0, 12)]
            if all(_free(p, half, screw, obstacles, gap) for p in pts):
                sp = rasterise([poly], h, w)
                if sp is None:
                    break
                skin = np.asarray(_SKIN[int(rng.integers(len(_SKIN)))], np.float32)
                perp = np.array([-d[1], d[0]])

                def finger_colour(
                    xs: NDArray[np.float32], ys: NDArray[np.float32], tip=tip, perp=perp, skin=skin, half=half
                ) -> NDArray[np.float32]:
                    across = np.clip(((xs - tip[0]) * perp[0] + (ys - tip[1]) * perp[1]) / half, -1, 1)
                    return (skin[None, :] * (0.55 + 0.45 * np.sqrt(1 - across**2))[:, None]).astype(
                        np.float32
                    )

                out.append((sp, finger_colour))
                break
    return out
