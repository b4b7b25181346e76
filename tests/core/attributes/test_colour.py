"""The coin as a colour reference for the finish input."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from core.attributes.colour import COIN_REFERENCE_RGB, apply_gains, balance_gains, coin_rgb
from core.errors import InputError


def _photo(light: tuple[float, float, float], coin: str = "us_quarter") -> tuple[np.ndarray, np.ndarray]:
    """A coin of its reference colour and a grey-blue bar, both under ``light`` (per-channel gains), with a
    dark rim on the coin and a background that must not leak into the coin's colour."""
    img = np.zeros((120, 160, 3), np.float32)
    img[:] = (40, 200, 40)
    disc = np.zeros((120, 160), np.uint8)
    cv2.circle(disc, (40, 60), 30, 1, -1)
    img[disc > 0] = COIN_REFERENCE_RGB[coin]
    rim = disc - cv2.erode(disc, np.ones((3, 3), np.uint8), iterations=2)
    img[rim > 0] = (10, 10, 10)
    img[50:70, 90:150] = (120, 130, 150)  # the "screw"
    lit = np.clip(img * np.asarray(light, np.float32), 0, 255).astype(np.uint8)
    return lit, disc > 0


@pytest.mark.parametrize("light", [(1.0, 1.0, 1.0), (1.3, 1.0, 0.6), (0.7, 0.8, 1.2)])
def test_balance_undoes_the_light_on_the_screw(light) -> None:
    img, disc = _photo(light)
    obs = coin_rgb(img, disc)
    assert obs is not None
    # the rim and the green background are left out of the coin's colour
    assert np.allclose(obs, np.asarray(COIN_REFERENCE_RGB["us_quarter"]) * light, atol=2.5)
    balanced = apply_gains(img, balance_gains(obs, "us_quarter"))
    assert np.allclose(balanced[60, 120].astype(float), (120, 130, 150), atol=4)


def test_unbalanced_colours_differ_by_the_light() -> None:
    warm, _ = _photo((1.3, 1.0, 0.6))
    cool, _ = _photo((0.7, 0.8, 1.2))
    assert np.abs(warm[60, 120].astype(int) - cool[60, 120]).max() > 50  # what the balance removes


def test_gains_are_clipped_alpha_is_kept_and_bad_inputs_refused() -> None:
    g = balance_gains(np.array([0.0, 1000.0, 100.0]), "euro_1")
    assert g.min() >= 0.25 and g.max() <= 4.0
    rgba = np.full((4, 4, 4), 100, np.uint8)
    out = apply_gains(rgba, np.array([2.0, 0.5, 3.0]))
    assert out[0, 0].tolist() == [200, 50, 255, 100]
    assert apply_gains(rgba, None) is rgba
    with pytest.raises(InputError, match="valid coins"):
        balance_gains(np.ones(3), "doubloon")
    tiny = np.zeros((50, 50), bool)
    tiny[:4, :4] = True
    assert coin_rgb(np.zeros((50, 50, 3), np.uint8), tiny) is None


@pytest.mark.parametrize("centre", [(40, 60), (5, 60), (150, 115)])
def test_coin_colour_is_the_whole_photo_erosion_also_at_the_border(centre) -> None:
    """Eroding only the coin's box gives what eroding the whole photo gives, for a coin cut by the border too."""
    rng = np.random.default_rng(0)
    img = rng.integers(0, 255, (120, 160, 3)).astype(np.uint8)
    disc = np.zeros((120, 160), np.uint8)
    cv2.circle(disc, centre, 30, 1, -1)
    k = max(1, round(0.2 * np.sqrt(disc.sum() / np.pi)))
    full = cv2.erode(disc, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * k + 1, 2 * k + 1))) > 0
    assert np.array_equal(coin_rgb(img, disc > 0), img[full].mean(axis=0))
