from __future__ import annotations

import numpy as np
import pytest
import torch

from core.errors import ConfigError
from core.pose import axis_from_mask, head_side
from core.pose.rotationnet import (
    create_rotationnet,
    decode_bins,
    direction_mass,
    predict_angle,
    predict_probs,
    probs_angle,
    rotnet_input,
)
from core.pose.train_rotationnet import long_screw_samples, main, make_sample


def _head_up_screw() -> tuple[np.ndarray, np.ndarray]:
    """RGBA + mask of a head-up screw: 10-row, 30 px head over a 90-row, 10 px shank."""
    m = np.zeros((100, 30), bool)
    m[0:10, :] = True
    m[10:100, 10:20] = True
    rgba = np.zeros((100, 30, 4), np.uint8)
    rgba[m] = (180, 180, 190, 255)
    return rgba, m


def test_samples_are_turned_by_their_label() -> None:
    rgba, m = _head_up_screw()
    rng = np.random.default_rng(0)
    checked = 0
    for _ in range(40):
        x, theta = make_sample(rgba, m, rng, 64)
        assert x.shape == (4, 64, 64) and 0.0 <= theta < 360.0
        mask = x[3] > 0.5
        ax = axis_from_mask(mask)
        if ax.aspect < 2.5:  # cut short: the geometry cannot check it
            continue
        got, _ = head_side(mask, ax)
        assert abs((got - theta + 180) % 360 - 180) < 8.0, (got, theta)
        checked += 1
    assert checked >= 5


def test_decode_bins_and_predict_angle_shapes() -> None:
    logits = torch.full((2, 72), -10.0)
    logits[0, 18] = 10.0  # bin 18 = 90 deg
    logits[1, 0] = 10.0
    ang = decode_bins(logits)
    assert ang[0].item() == pytest.approx(90.0, abs=0.1)
    assert min(ang[1].item(), 360 - ang[1].item()) == pytest.approx(0.0, abs=0.1)
    rgba, m = _head_up_screw()
    canvas = np.zeros((120, 120, 3), np.uint8)
    mask = np.zeros((120, 120), bool)
    canvas[10:110, 45:75] = rgba[..., :3]
    mask[10:110, 45:75] = m
    assert rotnet_input(canvas, mask).shape == (4, 64, 64)
    torch.manual_seed(0)
    model = create_rotationnet()
    a = predict_angle(model, canvas, mask)
    assert 0.0 <= a < 360.0
    p = predict_probs(model, canvas, mask)
    assert p.shape == (72,) and p.sum() == pytest.approx(1.0)
    assert probs_angle(p) == pytest.approx(a, abs=1e-3)


def test_direction_mass_sums_the_bins_near_a_direction_circularly() -> None:
    p = np.zeros(72)
    p[0], p[1], p[71], p[36] = 0.4, 0.2, 0.1, 0.3  # 0, 5, 355 and 180 deg
    # a bin spreads over its 5 deg: 0 deg's whole, half of 5's and of 355's
    assert direction_mass(p, 0.0, 5.0) == pytest.approx(0.4 + 0.1 + 0.05)
    assert direction_mass(p, 358.0, 4.0) == pytest.approx(0.9 * 0.4 + 0.7 * 0.1)  # 354-362: none of 5's
    assert direction_mass(p, 180.0, 15.0) == pytest.approx(0.3)
    assert direction_mass(p, 90.0, 15.0) == 0.0
    flat = np.full(72, 1 / 72)
    assert direction_mass(flat, 0.0) == pytest.approx(direction_mass(flat, 2.5)) == pytest.approx(30 / 360)


def test_long_screw_pool_comes_from_the_studio() -> None:
    pool = long_screw_samples(8, width=256, height=192)
    assert pool, "8 studio photos hold no long screw"
    for rgba, mask in pool:
        assert rgba.shape[:2] == mask.shape and rgba.shape[2] == 4
        assert mask.shape[0] >= 2.5 * min(mask.shape[1], mask.shape[0]) - 2  # long, head-up


def test_tiny_training_run_writes_a_loadable_model_with_validation_figures(tmp_path) -> None:
    from core.checkpoints import build_from_checkpoint, load_checkpoint

    out = tmp_path / "rn.safetensors"
    args = ["--out", str(out), "--photos", "12", "--steps", "2", "--batch", "4", "--val-short", "2"]
    assert main(args) == 0
    model = build_from_checkpoint(out, create_rotationnet)
    assert isinstance(model, torch.nn.Module)
    meta = load_checkpoint(out).meta
    assert 0.0 <= float(meta["val_short_head_side_rotationnet"]) <= 1.0
    with pytest.raises(ConfigError, match="positive"):
        main(["--out", str(out), "--photos", "0"])


class _BlobLocator:
    """Stands in for core.locate.Locator: its "blobs" are the photo's true screw mask, cut or dropped."""

    def __init__(self, mode: str):
        self.mode = mode

    def screw_blobs(self, image):
        from core.segment.predictor import Segmentation

        h, w = image.shape[:2]
        blobs = [] if self.mode == "none" else [self.mask.copy()]
        if self.mode == "half":
            ys, _ = np.nonzero(blobs[0])
            blobs[0][: int(np.median(ys))] = False  # a blob missing the screw's upper half
        return Segmentation(np.zeros((2, h, w), np.float32), ("screw", "coin"), {"screw": blobs, "coin": []})


def test_pool_from_pipeline_masks_keeps_the_true_angle(monkeypatch) -> None:
    from core.segment.data import polygon_mask

    truth = long_screw_samples(8, width=256, height=192)
    loc = _BlobLocator("same")
    # the fake locator needs the true mask of the photo it is asked about: hand it over via polygon_mask
    orig = polygon_mask

    def remember(poly, h, w):
        m = orig(poly, h, w)
        loc.mask = m
        return m

    monkeypatch.setattr("core.segment.data.polygon_mask", remember)
    same = long_screw_samples(8, width=256, height=192, locator=loc)
    # The true mask as the "blob": the same head-up cut-outs as without a locator.
    assert len(same) == len(truth)
    for (_, ma), (_, mb) in zip(same, truth, strict=True):
        assert ma.shape == mb.shape and (ma == mb).mean() > 0.99
    loc.mode = "none"
    assert long_screw_samples(8, width=256, height=192, locator=loc) == []
    loc.mode = "half"  # IoU about 0.5: kept, and the cut-out is the blob, still head-up by the true angle
    half = long_screw_samples(8, width=256, height=192, locator=loc)
    assert len(half) == len(truth)
    for (_, mh), (_, mt) in zip(half, truth, strict=True):
        assert mh.sum() < 0.7 * mt.sum()
