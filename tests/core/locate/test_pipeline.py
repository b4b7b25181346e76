from __future__ import annotations

import json

import numpy as np
import pytest

from core.errors import InputError, NoScrewFoundError
from core.locate import Locator
from core.locate.output import write_result
from core.segment.predictor import Segmentation, check_image, clean_instances
from core.segment.scenes import SceneConfig, render_scene


class _TruthSegmenter:
    """Fake segmenter returning a scene's true masks, to test everything after segmentation exactly."""

    classes = ("screw", "coin")

    def __init__(self, screw: np.ndarray, coin: np.ndarray):
        self.screw, self.coin = screw, coin

    def predict(self, image: np.ndarray) -> Segmentation:
        check_image(image)
        probs = np.stack([self.screw, self.coin]).astype(np.float32)
        inst = {"screw": clean_instances(probs[0], 0.5, 12), "coin": clean_instances(probs[1], 0.5, 12)}
        return Segmentation(probs, self.classes, inst)


def _scene(seed_pred) -> object:
    cfg = SceneConfig(size=(256, 256), p_cut=0.0, p_short=0.0, px_per_mm_range=(6.0, 8.0))
    for seed in range(200):
        sc = render_scene(seed, cfg)
        if seed_pred(sc):
            return sc
    raise AssertionError("no scene matched")


def test_two_screws_each_reported_and_measured(tmp_path) -> None:
    sc = _scene(
        lambda s: len(s.screws) == 2 and s.coin is not None and not any(t.cut_by_border for t in s.screws)
    )
    res = Locator(_TruthSegmenter(sc.screw_mask, sc.coin_mask)).locate(sc.image)
    assert len(res.screws) == 2 and res.coin is not None
    # The scene's coin may be any of several sizes; the Locator assumes euro_1, so compare pixels.
    assert res.coin.circle.r == pytest.approx(sc.coin.r, abs=0.7)
    truth = sorted(sc.screws, key=lambda t: -t.mask.sum())
    for got, t in zip(res.screws, truth, strict=True):
        assert abs((got.angle_deg - t.angle_deg + 180) % 360 - 180) < 3.0
        assert got.length_px == pytest.approx(t.length_px, rel=0.05)
    write_result(tmp_path, sc.image, res)
    data = json.loads((tmp_path / "result.json").read_text())
    assert len(data["screws"]) == 2 and data["coin"]["px_per_mm"] > 0
    assert (tmp_path / "overlay.png").is_file() and (tmp_path / "screw0_head.png").is_file()


def test_no_coin_marks_sizes_unavailable_and_goes_on() -> None:
    sc = _scene(lambda s: len(s.screws) >= 1)
    res = Locator(_TruthSegmenter(sc.screw_mask, np.zeros_like(sc.coin_mask))).locate(sc.image)
    assert res.coin is None and "no coin" in (res.coin_reason or "")
    assert res.screws[0].length_mm is None and "no coin" in res.screws[0].reasons["length_mm"]
    assert res.screws[0].length_px > 0


def test_screw_cut_by_border_has_no_length() -> None:
    m = np.zeros((64, 64), bool)
    m[20:28, 0:40] = True  # runs off the left edge
    m[16:32, 36:44] = True  # head
    coin = np.zeros((64, 64), bool)
    ys, xs = np.mgrid[0:64, 0:64]
    coin[(xs - 50) ** 2 + (ys - 50) ** 2 <= 36] = True
    img = np.full((64, 64, 3), 128, np.uint8)
    res = Locator(_TruthSegmenter(m, coin)).locate(img)
    s = res.screws[0]
    assert s.cut_by_border and s.length_mm is None and "border" in s.reasons["length_mm"]
    assert s.diameter_mm is not None


def test_no_screw_and_tiny_image_raise_typed_errors() -> None:
    empty = np.zeros((64, 64), bool)
    with pytest.raises(NoScrewFoundError, match="no screw found"):
        Locator(_TruthSegmenter(empty, empty)).locate(np.zeros((64, 64, 3), np.uint8))
    with pytest.raises(InputError, match="too small"):
        Locator(_TruthSegmenter(empty, empty)).locate(np.zeros((8, 8, 3), np.uint8))
    with pytest.raises(InputError, match="uint8"):
        check_image(np.zeros((32, 32, 3), np.float32))


@pytest.mark.xfail(
    strict=True, reason="known bias: 90th-percentile shank width reads 1-2 px wide on small screws"
)
def test_diameter_within_one_pixel_on_truth_masks() -> None:
    sc = _scene(
        lambda s: len(s.screws) == 2 and s.coin is not None and not any(t.cut_by_border for t in s.screws)
    )
    res = Locator(_TruthSegmenter(sc.screw_mask, sc.coin_mask)).locate(sc.image)
    truth = sorted(sc.screws, key=lambda t: -t.mask.sum())
    for got, t in zip(res.screws, truth, strict=True):
        assert got.diameter_px == pytest.approx(t.diameter_px, abs=1.0)
