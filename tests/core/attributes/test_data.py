"""Thread strip and shank start (hand-built masks), the ablation views, one real studio render."""

from __future__ import annotations

import numpy as np
import pytest

from core.attributes.data import (
    EXPERIMENT_SIZE,
    INPUT_SIZE,
    build_crop_arrays,
    shank_start,
    thread_strip,
    tip_tall,
)
from core.attributes.views import VIEW_SIZE, box_view, photo_view
from core.errors import InputError


def _screw(dome: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Head-up RGBA screw on a 30-wide canvas: head rows 0-9 (30 px wide, red), shank rows 10-99 (10 px
    wide, cols 10-19): blue in rows 10-54, green in rows 55-99 (the "thread" starts half-way)."""
    mask = np.zeros((100, 30), bool)
    mask[0:10, :] = True
    if dome:
        mask[0:3, :] = False
        mask[0:3, 13:17] = True  # the narrow top of a domed head
    mask[10:100, 10:20] = True
    rgba = np.zeros((100, 30, 4), np.uint8)
    rgba[0:10, :, :3] = (255, 0, 0)
    rgba[10:55, :, :3] = (0, 0, 255)
    rgba[55:100, :, :3] = (0, 255, 0)
    rgba[..., 3] = mask * 255
    rgba[~mask, :3] = 0
    return rgba, mask


def test_shank_start_hand_cases():
    assert shank_start(_screw()[1]) == 10
    assert shank_start(_screw(dome=True)[1]) == 10  # the dome's narrow top is not the shank
    plain = np.zeros((50, 8), bool)
    plain[:, 2:6] = True
    assert shank_start(plain) == 0  # no head wider than the shank
    assert shank_start(np.zeros((2, 2), bool)) == 0


def test_thread_strip_maps_shank_top_to_row_0_and_keeps_the_start_position():
    rgba, mask = _screw(dome=True)
    s = thread_strip(rgba, mask)
    assert s.shape == (*INPUT_SIZE["thread"], 3) and s.dtype == np.uint8
    assert s[..., 0].max() == 0  # no head (red) pixel in the strip
    blue, green = s[:, 6:26, 2] > 128, s[:, 6:26, 1] > 128
    # the shank is 90 rows: blue 45 / green 45 -> the colour change sits at row 128 of 256
    assert blue[:120].all() and green[136:].all()
    first_green = int(np.flatnonzero(green.any(axis=1))[0])
    assert abs(first_green - 128) <= 2
    # columns trimmed to the shank (+2 px for the outline), then stretched: 10 px shank -> ~23 of 32 columns
    lit = np.flatnonzero(s.max(axis=(0, 2)) > 0)
    assert 20 <= lit.size <= 26


def test_thread_strip_degenerate_inputs_are_black():
    assert thread_strip(np.zeros((1, 5, 4), np.uint8), np.zeros((1, 5), bool)).max() == 0


def test_photo_and_box_views():
    img = np.zeros((60, 80, 3), np.uint8)
    img[20:30, 40:70] = 200
    mask = np.zeros((60, 80), bool)
    mask[20:30, 40:70] = True
    p = photo_view(img)
    assert p.shape == (*VIEW_SIZE["photo"], 3)
    b = box_view(img, mask)
    assert b.shape == (*VIEW_SIZE["box"], 3)
    rows = np.flatnonzero((b > 100).any(axis=(1, 2)))
    cols = np.flatnonzero((b > 100).any(axis=(0, 2)))
    assert cols.size > 70 and 20 <= rows.size <= 35  # 30 x 10 box + margin, aspect kept (not stretched)
    with pytest.raises(InputError, match="empty"):
        box_view(img, np.zeros_like(mask))
    with pytest.raises(InputError, match="does not match"):
        box_view(img, mask[:10])
    with pytest.raises(InputError, match="RGB"):
        photo_view(img[..., 0])


def test_build_crop_arrays_on_real_studio_photos():
    d = build_crop_arrays(4, seed=12345, progress=False)
    n = len(d["y_thread"])
    assert n >= 1
    for k, (h, w) in {**INPUT_SIZE, **VIEW_SIZE, **EXPERIMENT_SIZE}.items():
        assert d[k].shape == (n, h, w, 3) and d[k].dtype == np.uint8
    assert d["thread"].reshape(n, -1).max(axis=1).min() > 0  # every strip shows a screw
    assert set(np.unique(d["y_thread"])) <= {0, 1, 2, 3}


def test_tip_tall_is_the_last_three_shank_widths():
    rgba, mask = _screw()
    t = tip_tall(rgba, mask)
    assert t.shape == (*EXPERIMENT_SIZE["tip_tall"], 3)
    assert t[..., 0].max() == 0 and t[..., 2].max() == 0  # rows 70-99 only: green, no head, no blue
    assert (t[..., 1] > 128).sum() > 0.4 * t.shape[0] * t.shape[1] * 10 / 14  # fills the frame's height


def test_crops_from_a_segmenter_and_merge(tmp_path):
    """Crops cut as the engine cuts them (a segmenter's masks) stack with exact-mask crops for training."""
    pytest.importorskip("torch")
    from core.attributes.data import build_crop_arrays, merge_crop_arrays, save_crop_arrays
    from core.errors import DatasetError
    from core.paths import models_dir

    exact = build_crop_arrays(4, seed=5, width=320, height=240, progress=False)
    shipped = models_dir() / "segmenter" / "segmenter.safetensors"
    if shipped.is_file():  # the engine's view: the shipped segmenter's masks, same crop sizes
        pred = build_crop_arrays(6, seed=5, progress=False, segmenter=shipped)
        assert 1 <= len(pred["y_head"]) <= 6
        assert all(pred[k].shape[1:] == exact[k].shape[1:] for k in INPUT_SIZE)
        # the search's second cut (GrabCut without reach): same screws, other outlines
        cut0 = build_crop_arrays(6, seed=5, progress=False, segmenter=shipped, grabcut_reach=0.0)
        assert (cut0["y_head"] == pred["y_head"]).all() and cut0["head"].shape == pred["head"].shape
        assert (cut0["head"] != pred["head"]).any()
        assert (pred["cut"] == 0).all()
        # the engine's two cuts from one pass: EdgeNet's outline (cut 0), then GrabCut at reach 0 (cut 1)
        edge = models_dir() / "segmenter" / "edgenet.safetensors"
        both = build_crop_arrays(
            6, seed=5, progress=False, segmenter=shipped, edgenet=edge, view_reaches=(0.0,)
        )
        assert both["cut"].tolist() == [0, 1] * len(pred["y_head"])
        assert (both["y_head"][::2] == pred["y_head"]).all() and (both["y_tip"][1::2] == pred["y_tip"]).all()
        # the extra cut is turned head-up with the main outline's axis, as the engine's views are
        assert (both["head"][1::2] != both["head"][::2]).any()
        assert (both["thread"][::2] != pred["thread"]).any()  # EdgeNet moved the main outline
    from core.errors import ConfigError

    with pytest.raises(ConfigError, match="needs a segmenter"):
        build_crop_arrays(1, seed=5, progress=False, grabcut_reach=0.0)
    for bad in ({"edgenet": "models/segmenter/edgenet.safetensors"}, {"view_reaches": (0.0,)}):
        with pytest.raises(ConfigError, match="needs a segmenter"):
            build_crop_arrays(1, seed=5, progress=False, **bad)  # type: ignore[arg-type]
    a = save_crop_arrays(tmp_path / "a.npz", exact)
    b = save_crop_arrays(tmp_path / "b.npz", {k: v[:2] for k, v in exact.items()})
    merged = merge_crop_arrays([a, b])
    n = len(exact["y_head"])
    assert len(merged["y_head"]) == n + 2 and merged["head"].shape[1:] == exact["head"].shape[1:]
    assert (merged["y_tip"][n:] == exact["y_tip"][:2]).all()
    bad = save_crop_arrays(tmp_path / "bad.npz", {"head": exact["head"][:, :10], "y_head": exact["y_head"]})
    with pytest.raises(DatasetError, match="disagree"):
        merge_crop_arrays([a, bad])


def test_predicted_screw_is_the_best_overlap_above_half():
    from types import SimpleNamespace

    from core.attributes.data import _predicted
    from core.errors import NoScrewFoundError

    truth = np.zeros((20, 20), bool)
    truth[5:15, 8:12] = True
    near = SimpleNamespace(mask=np.roll(truth, 1, axis=0))  # IoU 36/44
    far = SimpleNamespace(mask=np.roll(truth, 9, axis=0))  # IoU 1/19
    same = SimpleNamespace(mask=truth.copy())

    class Fake:
        def __init__(self, screws):
            self.screws = screws

        def locate(self, image):
            if not self.screws:
                raise NoScrewFoundError("none")
            return SimpleNamespace(screws=self.screws)

    image = np.zeros((20, 20, 3), np.uint8)
    assert _predicted(Fake([far, near, same]), image, truth)[0] is same
    assert _predicted(Fake([far, near]), image, truth)[0] is near
    assert _predicted(Fake([far]), image, truth) == (None, None)
    assert _predicted(Fake([]), image, truth) == (None, None)
