"""The coin's outline fitted on the photo's edges, and the scale along a direction under a tilted camera."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from core.catalog.coins import COINS
from core.measure import (
    CoinScale,
    EllipseFit,
    ellipse_mask,
    fit_ellipse,
    measure_screw,
    refine_ellipse_on_edges,
    scale_from_ellipse,
)

TRUE = EllipseFit(cx=101.3, cy=86.7, a=38.4, b=33.9, angle_deg=27.0, residual_rms=0.0, n_points=0)


def _coin_photo(shadow: bool = True, seed: int = 0) -> np.ndarray:
    """A coin (the ellipse TRUE, anti-aliased by 8x supersampling) on a noisy wooden-ish background, with a
    darker crescent shadow on its lower right."""
    rng = np.random.default_rng(seed)
    h, w, s = 180, 210, 8
    big = np.zeros((h * s, w * s), np.uint8)
    scaled = EllipseFit(TRUE.cx * s, TRUE.cy * s, TRUE.a * s, TRUE.b * s, TRUE.angle_deg, 0.0, 0)
    # supersampled coverage of the ellipse whose edge is TRUE (pixel centres at integer coordinates)
    shifted = EllipseFit(
        scaled.cx + (s - 1) / 2, scaled.cy + (s - 1) / 2, scaled.a, scaled.b, TRUE.angle_deg, 0, 0
    )
    big[ellipse_mask(big.shape, shifted)] = 1
    cover = cv2.resize(big.astype(np.float32), (w, h), interpolation=cv2.INTER_AREA)
    bg = np.empty((h, w, 3), np.float32)
    bg[:] = (150.0, 110.0, 70.0)
    bg += rng.normal(0.0, 6.0, (h, w, 1))
    if shadow:
        sh = EllipseFit(TRUE.cx + 3.0, TRUE.cy + 3.0, TRUE.a, TRUE.b, TRUE.angle_deg, 0.0, 0)
        bg[ellipse_mask((h, w), sh)] *= 0.55
    coin = np.array((205.0, 190.0, 120.0), np.float32)
    img = bg * (1.0 - cover[..., None]) + coin * cover[..., None]
    return np.asarray(np.clip(cv2.GaussianBlur(img, (0, 0), 0.8), 0, 255), np.uint8)


@pytest.mark.parametrize("shadow", [False, True])
def test_edge_fit_finds_the_coin_from_a_rough_start(shadow: bool) -> None:
    img = _coin_photo(shadow)
    # a start like a segmenter's: 1.5 px too large and 1 px off centre, towards the shadow
    start = EllipseFit(
        TRUE.cx + 1.0, TRUE.cy + 0.8, TRUE.a + 1.5, TRUE.b + 1.5, TRUE.angle_deg + 4.0, 0.5, 200
    )
    assert abs(start.a - TRUE.a) > 1.0 and abs(start.b - TRUE.b) > 1.0
    # one pass (the default) lands within a few tenths of a pixel; a second one, from there, within 0.15 px
    for passes, tol in ((1, 0.4), (2, 0.15)):
        got = refine_ellipse_on_edges(img, start, passes=passes)
        assert got is not None
        assert math.hypot(got.cx - TRUE.cx, got.cy - TRUE.cy) < tol
        assert abs(got.a - TRUE.a) < tol and abs(got.b - TRUE.b) < tol


def test_edge_fit_refuses_a_photo_without_the_edge() -> None:
    flat = np.full((180, 210, 3), 128, np.uint8)
    flat += np.random.default_rng(1).integers(0, 3, flat.shape, dtype=np.uint8)
    assert refine_ellipse_on_edges(flat, TRUE) is None


def test_ellipse_mask_is_the_labels_rasterisation() -> None:
    m = ellipse_mask((180, 210), TRUE)
    fit = fit_ellipse(m)
    assert fit is not None
    # contour pixel centres of a fillPoly mask lie on the drawn outline to within half a pixel
    assert abs(fit.a - TRUE.a) < 0.6 and abs(fit.b - TRUE.b) < 0.6
    assert abs(m.sum() - math.pi * TRUE.a * TRUE.b) / (math.pi * TRUE.a * TRUE.b) < 0.03


def test_scale_along_a_direction_undoes_an_affine_tilt() -> None:
    """A coin of diameter D and a 40 mm screw on the same plane seen through the affine map A: the coin's
    ellipse is A's image of the circle; the screw's image length divided by the scale along its image direction
    gives back 40 mm in every direction, the mean scale does not."""
    d_mm = COINS["euro_1"]
    ppm = 4.0
    rot = np.array([[math.cos(0.4), -math.sin(0.4)], [math.sin(0.4), math.cos(0.4)]])
    a_map = ppm * rot @ np.array([[1.0, 0.15], [0.0, 0.82]])  # mm -> px: shear, squash and turn
    u, sv, _ = np.linalg.svd(a_map)
    r_mm = d_mm / 2.0
    ang = math.degrees(math.atan2(u[1, 0], u[0, 0])) % 180.0
    ell = EllipseFit(50.0, 50.0, sv[0] * r_mm, sv[1] * r_mm, ang, 0.1, 300)
    scale = scale_from_ellipse(ell, "euro_1")
    assert isinstance(scale, CoinScale) and scale.ellipse is ell
    assert scale.px_per_mm == pytest.approx((sv[0] + sv[1]) / 2.0)
    errs_mean = []
    for phi in np.linspace(0.0, math.pi, 7):
        w = a_map @ (40.0 * np.array([math.cos(phi), math.sin(phi)]))
        image_angle = math.degrees(math.atan2(w[0], -w[1]))  # clockwise from image-up
        length_px = float(np.hypot(*w))
        assert length_px / scale.px_per_mm_along(image_angle) == pytest.approx(40.0, rel=1e-9)
        assert length_px / scale.px_per_mm_along(image_angle + 180.0) == pytest.approx(40.0, rel=1e-9)
        errs_mean.append(abs(length_px / scale.px_per_mm - 40.0))
    assert max(errs_mean) > 2.0  # the mean scale is wrong by mm in some directions


def test_scale_of_a_circle_is_the_same_in_every_direction_and_has_a_std() -> None:
    circle = EllipseFit(0.0, 0.0, 30.0, 30.0, 0.0, 0.2, 200)
    s = scale_from_ellipse(circle, diameter_mm=20.0)
    assert s.px_per_mm == pytest.approx(3.0)
    for a in (0.0, 33.0, 90.0, 270.0):
        assert s.px_per_mm_along(a) == pytest.approx(3.0)
    assert 0.0 < s.px_per_mm_std < 0.1 * s.px_per_mm


def test_measure_converts_the_diameter_with_the_scale_across() -> None:
    size = measure_screw(100.0, 10.0, 5.0, 0.0, across_px_per_mm=4.0)
    assert size.length_mm == pytest.approx(20.0) and size.diameter_mm == pytest.approx(2.5)
    same = measure_screw(100.0, 10.0, 5.0)
    assert same.diameter_mm == pytest.approx(2.0)
