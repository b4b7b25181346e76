from __future__ import annotations

import cv2
import numpy as np
import pytest

from core.errors import ConfigError, InputError, NoCoinFoundError
from core.measure import coin_scale, fit_circle, length_px_along_axis, measure_screw, shank_diameter_px


def _disc(cx: float, cy: float, r: float, size: tuple[int, int] = (200, 200)) -> np.ndarray:
    ys, xs = np.mgrid[0 : size[0], 0 : size[1]]
    return (xs - cx) ** 2 + (ys - cy) ** 2 <= r**2


@pytest.mark.parametrize(("cx", "cy", "r"), [(100, 100, 40), (73.3, 120.6, 25.5), (100, 100, 60.2)])
def test_circle_fit_recovers_drawn_disc(cx: float, cy: float, r: float) -> None:
    fit = fit_circle(_disc(cx, cy, r))
    assert fit.cx == pytest.approx(cx, abs=0.3) and fit.cy == pytest.approx(cy, abs=0.3)
    assert fit.r == pytest.approx(r, abs=0.5)


def test_circle_cut_by_border_still_fits() -> None:
    fit = fit_circle(_disc(10, 100, 40))  # a third of the disc is outside the image
    assert fit.r == pytest.approx(40, abs=0.7) and fit.cx == pytest.approx(10, abs=0.7)


def test_coin_scale_and_errors() -> None:
    sc = coin_scale(_disc(100, 100, 46.5), coin="euro_1")  # 23.25 mm -> 93 px -> 4 px/mm
    assert sc.px_per_mm == pytest.approx(4.0, abs=0.03) and 0 < sc.px_per_mm_std < 0.05
    with pytest.raises(ConfigError, match="unknown coin"):
        coin_scale(_disc(100, 100, 40), coin="doubloon")
    with pytest.raises(NoCoinFoundError, match="no coin found"):
        coin_scale(np.zeros((20, 20), bool))


def test_length_along_axis_axis_aligned_and_diagonal() -> None:
    m = np.zeros((60, 100), bool)
    m[25:35, 10:90] = True
    assert length_px_along_axis(m, 90.0) == pytest.approx(80.0)
    d = np.zeros((200, 200), np.uint8)
    cv2.line(d, (40, 160), (160, 40), 1, 9)  # 45-degree bar, length ~ 169.7 + the round caps
    assert length_px_along_axis(d.astype(bool), 45.0) == pytest.approx(169.7 + 9, abs=3)


def test_shank_diameter_and_mm_conversion() -> None:
    can = np.zeros((100, 40), bool)
    can[0:10, 5:35] = True  # head 30 wide
    can[10:100, 14:26] = True  # shank 12 wide
    assert shank_diameter_px(can, (10, 90)) == pytest.approx(12.0)
    size = measure_screw(100.0, 12.0, px_per_mm=4.0, px_per_mm_std=0.04)
    assert size.length_mm == pytest.approx(25.0) and size.diameter_mm == pytest.approx(3.0)
    assert size.length_mm_std == pytest.approx(25.0 * np.hypot(np.sqrt(2 / 12) / 100, 0.01), rel=1e-6)
    masked = measure_screw(100.0, 12.0, px_per_mm=4.0, px_per_mm_std=0.04, mask_rel_std=0.1)
    assert masked.length_mm_std == pytest.approx(25.0 * np.hypot(np.hypot(np.sqrt(2 / 12) / 100, 0.01), 0.1))
    assert masked.length_mm == size.length_mm  # the mask error widens the std, never moves the value
    with pytest.raises(InputError):
        measure_screw(100.0, 12.0, px_per_mm=4.0, mask_rel_std=-0.1)
    none = measure_screw(100.0, 12.0, px_per_mm=None)
    assert none.length_mm is None and none.diameter_mm is None
