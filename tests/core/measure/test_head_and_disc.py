from __future__ import annotations

import cv2
import numpy as np
import pytest

from core.measure import coin_disc, fit_ellipse, head_height_px
from core.pose import split_parts


def _ellipse(cx: float, cy: float, a: float, b: float, size: tuple[int, int] = (160, 200)) -> np.ndarray:
    ys, xs = np.mgrid[0 : size[0], 0 : size[1]]
    return ((xs - cx) / a) ** 2 + ((ys - cy) / b) ** 2 <= 1.0


def _pan_screw() -> np.ndarray:
    """Head-up canonical mask: 8-row head 30 px wide (flat bearing face), 60-row shank 10 px wide."""
    m = np.zeros((70, 40), bool)
    m[0:8, 5:35] = True
    m[8:68, 15:25] = True
    return m


def _countersunk_screw() -> np.ndarray:
    """Head-up canonical mask: a 10-row cone from 30 px down to 10 px, then a 60-row shank 10 px wide."""
    m = np.zeros((72, 40), bool)
    for r in range(10):
        half = 15 - r  # 30 px wide at the top, 12 px at row 9
        m[r, 20 - half : 20 + half] = True
    m[10:70, 15:25] = True
    return m


def test_flat_bearing_face_gives_head_height_and_not_countersunk() -> None:
    m = _pan_screw()
    head, _, _ = split_parts(m)
    hh = head_height_px(m, head)
    assert head == (0, 8) and hh.height_px == 8.0 and not hh.countersunk


def test_cone_head_is_countersunk() -> None:
    m = _countersunk_screw()
    hh = head_height_px(m, split_parts(m)[0])
    assert hh.countersunk and hh.height_px >= 5


def test_dome_top_narrower_than_the_shank_is_still_head() -> None:
    m = _pan_screw()
    m[0:3] = False
    m[0:3, 17:23] = True  # rounded top: 6 px, narrower than the 10 px shank
    assert split_parts(m)[0] == (0, 8)


def test_headless_mask_has_a_one_row_head() -> None:
    m = np.zeros((50, 20), bool)
    m[0:48, 5:15] = True
    head, _, _ = split_parts(m)
    assert head == (0, 1) and head_height_px(m, head).height_px == 1.0


def test_ellipse_fit_recovers_axes_and_disc_redraws_a_clean_coin() -> None:
    m = _ellipse(100.3, 80.6, 40.0, 36.0)
    fit = fit_ellipse(m)
    assert fit is not None
    assert fit.a == pytest.approx(40.0, abs=0.8) and fit.b == pytest.approx(36.0, abs=0.8)
    assert fit.cx == pytest.approx(100.3, abs=0.3) and fit.residual_rms < 0.6
    d = coin_disc(m)
    assert d is not None and (d & m).sum() / (d | m).sum() > 0.97


def test_disc_smooths_a_ragged_edge() -> None:
    truth = _ellipse(100, 80, 40, 40)
    rng = np.random.default_rng(0)
    ragged = truth.copy()
    edge = truth ^ _ellipse(100, 80, 38, 38)
    ragged[edge & (rng.random(truth.shape) < 0.5)] = False  # half the edge ring eaten away
    d = coin_disc(ragged, max_residual_px=1.5)
    assert d is not None

    def iou(a: np.ndarray) -> float:
        return float((a & truth).sum() / (a | truth).sum())

    assert iou(d) > iou(ragged)


def test_disc_refuses_shapes_that_are_no_coin() -> None:
    bar = np.zeros((100, 100), bool)
    bar[40:60, 10:90] = True  # flat: eccentricity ~0.97
    assert coin_disc(bar) is None
    blob = _ellipse(50, 50, 30, 30, (100, 100))
    blob[50:, 50:] = False  # a quarter missing: the ellipse does not fit the contour
    assert coin_disc(blob) is None
    assert fit_ellipse(np.zeros((20, 20), bool)) is None


def _coin_with_shadow(tilt: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """A coin (an ellipse of b / a = ``tilt``) with its shadow's rim stuck to it: a C-shaped band around the
    right half, touching the coin at its ends (the segmenter's usual coin + shadow blob)."""
    coin = _ellipse(100, 80, 40, 40 * tilt)
    xs = np.mgrid[0:160, 0:200][1]
    rim = _ellipse(106, 84, 54, 54 * tilt) & ~_ellipse(106, 84, 44, 44 * tilt) & (xs > 100)
    blob = coin | rim
    assert cv2.connectedComponents(blob.astype(np.uint8))[0] == 2  # one blob (and the background)
    return coin, blob


@pytest.mark.parametrize("tilt", [1.0, 0.85])
def test_robust_fit_finds_the_coin_under_its_shadow(tilt: float) -> None:
    from core.measure.coin import fit_ellipse_robust

    coin, blob = _coin_with_shadow(tilt)
    assert blob.sum() > 1.2 * coin.sum()  # the shadow adds a real crescent
    plain = fit_ellipse(blob)
    assert plain is not None
    assert plain.residual_rms > 1.0 or abs(plain.a - 40) > 5  # the whole outline gives no coin
    assert coin_disc(blob) is None or coin_disc(blob).sum() > 1.15 * coin.sum()
    fit = fit_ellipse_robust(blob)
    assert fit is not None
    assert fit.cx == pytest.approx(100, abs=1.0) and fit.cy == pytest.approx(80, abs=1.0)
    assert fit.a == pytest.approx(40, abs=1.0) and fit.b == pytest.approx(40 * tilt, abs=1.0)
    d = coin_disc(blob, robust=True)
    assert d is not None
    assert (d & coin).sum() / (d | coin).sum() > 0.95 > (blob & coin).sum() / (blob | coin).sum()


def test_robust_fit_refuses_blobs_that_hold_no_whole_disc() -> None:
    from core.measure.coin import fit_ellipse_robust

    blob = _ellipse(50, 50, 30, 30, (100, 100))
    blob[50:, 50:] = False  # a quarter missing: the circle through the rest is not inside the blob
    assert fit_ellipse_robust(blob) is None and coin_disc(blob, robust=True) is None
    bar = np.zeros((100, 100), bool)
    bar[40:60, 10:90] = True
    assert coin_disc(bar, robust=True) is None
    square = np.zeros((100, 100), bool)
    square[15:85, 15:85] = True  # its sides touch the inscribed circle in four short arcs only
    assert fit_ellipse_robust(square) is None
    assert fit_ellipse_robust(np.zeros((20, 20), bool)) is None
