from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from core.errors import NoScrewFoundError
from core.pose import axis_from_mask, canonicalize, head_side


def screw_polygon(
    length: float, diameter: float, head_d: float, head_h: float, tip_len: float, pitch: float
) -> np.ndarray:
    """Screw outline head-up (-y), centred on the origin, (N, 2) XY: domed head, threaded shank, tip."""
    top, bottom = -length / 2.0, length / 2.0
    arc_h = 0.35 * head_h
    head = []
    for k in range(9):  # domed pan head, left to right
        a = math.pi * (1 - k / 8)
        head.append((head_d / 2 * math.cos(a), top + arc_h * (1 - math.sin(a))))
    y0 = top + head_h
    y1 = max(bottom - tip_len, y0 + pitch)
    right = [(head_d / 2, y0), (diameter / 2, y0)]
    y, crest = y0 + pitch / 2, False
    root = diameter / 2 - 0.06 * diameter
    while y < y1:
        right.append((diameter / 2 if crest else root, y))
        crest, y = not crest, y + pitch / 2
    right.append((diameter / 2, y1))
    right.append((0.1 * diameter, bottom))
    left = [(-x, yy) for x, yy in reversed(right)]
    return np.array(head + right + left, dtype=np.float64)


def _screw_mask(angle: float, size: int = 200, length: float = 120, diameter: float = 16) -> np.ndarray:
    """A screw drawn with cv2: head at angle (clockwise from up), centred."""
    poly = screw_polygon(length, diameter, 1.9 * diameter, 0.6 * diameter, 0.8 * diameter, 3.0)
    a = np.radians(angle)
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    pts = poly @ rot.T + size / 2
    m = np.zeros((size, size), np.uint8)
    cv2.fillPoly(m, [np.round(pts * 16).astype(np.int32)], 1, shift=4)
    return m.astype(bool)


def test_axis_aligned_rectangle_is_exact() -> None:
    m = np.zeros((50, 80), bool)
    m[20:30, 10:70] = True  # 60 wide, 10 tall: horizontal axis
    ax = axis_from_mask(m)
    assert ax.axis_deg == pytest.approx(90.0)
    assert ax.length_px == pytest.approx(60.0) and ax.width_px == pytest.approx(10.0)
    assert ax.center == pytest.approx((39.5, 24.5))


@pytest.mark.parametrize("angle", [0.0, 37.0, 90.0, 145.0, 200.0, 300.0])
def test_angle_and_head_side_of_drawn_screws(angle: float) -> None:
    m = _screw_mask(angle)
    ax = axis_from_mask(m)
    got, conf = head_side(m, ax)
    err = abs((got - angle + 180) % 360 - 180)
    assert err < 2.0, (got, angle)
    assert conf > 0.05


def test_head_side_flips_with_the_screw() -> None:
    a, _ = head_side(_screw_mask(60), axis_from_mask(_screw_mask(60)))
    b, _ = head_side(_screw_mask(240), axis_from_mask(_screw_mask(240)))
    assert abs((a - b) % 360 - 180) < 2.0


def _drawn_canonical(angle: float):
    """A drawn screw at ``angle`` on a plain photo, turned head-up: (photo, mask, axis, head angle, canonical)."""
    m = _screw_mask(angle)
    img = np.full((*m.shape, 3), 90, np.uint8)
    img[m] = (200, 200, 200)
    ax = axis_from_mask(m)
    ang, _ = head_side(m, ax)
    return img, m, ax, ang, canonicalize(img, m, ax.center, ang, ax.length_px)


def test_canonical_is_head_up_with_parts() -> None:
    *_, can = _drawn_canonical(123.0)
    h, w = can.mask.shape
    assert h == pytest.approx(120, abs=3) and w == pytest.approx(1.9 * 16, abs=3)
    widths = can.mask.sum(1)
    assert widths[: h // 8].max() > 1.5 * np.median(widths[h // 3 : 2 * h // 3])  # head on top
    assert can.head_rows[1] <= can.body_rows[0] + 1 and can.body_rows[1] <= can.tip_rows[0] + 1
    assert (can.image[..., 3] == 0).sum() > 0 and (
        can.image[~can.mask][:, :3] == 0
    ).all()  # background removed


def test_empty_mask_raises_no_screw_found() -> None:
    with pytest.raises(NoScrewFoundError, match="no screw found"):
        axis_from_mask(np.zeros((10, 10), bool))


def test_upside_down_is_the_canonical_cut_at_the_opposite_angle() -> None:
    """Turning the head-up canvas by 180 degrees gives what canonicalize gives with the head at the other end."""
    from core.pose.canonical import upside_down

    img, m, ax, ang, can = _drawn_canonical(40.0)
    down = upside_down(can)
    other = canonicalize(img, m, ax.center, ang + 180.0, ax.length_px)
    assert down.mask.shape == can.mask.shape
    assert (down.mask ^ other.mask).mean() < 0.03  # the same picture up to a pixel of resampling
    widths = down.mask.sum(1)
    assert widths[-(len(widths) // 8) :].max() > 1.5 * np.median(
        widths[: len(widths) // 3]
    )  # head at the bottom
    assert down.head_rows == other.head_rows or abs(down.head_rows[1] - other.head_rows[1]) <= 2
    assert np.array_equal(upside_down(down).image, can.image)  # twice = unchanged


def _squat_screw(angle_deg: float, size: int = 200) -> np.ndarray:
    """A short screw seen from the side (shank 20 x 30 px under a 44 x 10 px head, a point at the tip), head
    towards ``angle_deg`` (project convention), turned about the photo's centre."""
    m = np.zeros((size, size), np.uint8)
    c = size // 2
    m[c - 15 : c + 15, c - 10 : c + 10] = 1  # shank
    m[c - 25 : c - 15, c - 22 : c + 22] = 1  # head
    cv2.fillPoly(m, [np.array([[c - 10, c + 15], [c + 10, c + 15], [c, c + 27]], np.int32)], 1)  # point
    rot = cv2.getRotationMatrix2D((c, c), -angle_deg, 1.0)  # clockwise in the image
    return cv2.warpAffine(m, rot, (size, size), flags=cv2.INTER_NEAREST).astype(bool)


@pytest.mark.parametrize("angle", [0.0, 17.0, 64.0, 101.0, 143.0, 250.0])
def test_symmetry_axis_is_the_mirror_line_of_a_squat_screw(angle):
    from core.pose.geometry import symmetry_axis

    axis, iou = symmetry_axis(_squat_screw(angle))
    assert abs((axis - angle + 90.0) % 180.0 - 90.0) < 1.5  # the axis, modulo 180
    assert iou > 0.9


def test_symmetry_axis_of_a_lopsided_blob_scores_low_and_an_empty_mask_raises():
    from core.pose.geometry import symmetry_axis

    m = np.zeros((100, 100), bool)
    m[20:80, 20:40] = True
    m[20:35, 40:80] = True
    m[60:65, 40:90] = True  # an F: no mirror line
    assert symmetry_axis(m)[1] < 0.8
    with pytest.raises(NoScrewFoundError):
        symmetry_axis(np.zeros((10, 10), bool))
