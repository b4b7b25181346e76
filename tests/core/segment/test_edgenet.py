"""EdgeNet: its crop, an untrained net returning its blob, the locator's use of it, loading, a tiny training run."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from core.checkpoints import save_checkpoint
from core.errors import CheckpointError, ConfigError, DatasetError
from core.locate import LocateConfig, Locator
from core.segment.edgenet import (
    EdgeNetArch,
    arch_dict,
    create_edgenet,
    edge_crop,
    edge_input,
    edgenet_refine,
    load_edgenet,
)
from core.segment.predictor import Segmentation, check_image, clean_instances
from core.segment.train_edgenet import crop_iou, load_crops, train_edgenet
from core.segment.train_edgenet import main as edgenet_main


def _bar(h: int, w: int, x0: int, y0: int, x1: int, y1: int) -> np.ndarray:
    m = np.zeros((h, w), bool)
    m[y0:y1, x0:x1] = True
    return m


def test_crop_grows_the_box_by_the_margin_and_to_the_minimum_side_inside_the_photo() -> None:
    arch = EdgeNetArch(margin=0.25, min_side=96, max_side=384)
    c = edge_crop(_bar(300, 400, 100, 140, 180, 150), arch)  # 80 x 10 blob
    assert (c.x0, c.x1) == (80, 200) and c.scale == 1.0  # 80 + 2 x 20 px of margin
    assert c.y1 - c.y0 == 96 and c.y0 <= 140 and c.y1 >= 150  # grown to 96 rows around the blob
    corner = edge_crop(_bar(300, 400, 0, 0, 10, 10), arch)
    assert (corner.y0, corner.x0) == (0, 0) and (corner.y1, corner.x1) == (96, 96)  # shifted inside
    big = edge_crop(_bar(1000, 1000, 100, 450, 900, 550), arch)
    assert big.scale == pytest.approx(384 / (big.x1 - big.x0))


def test_untrained_edgenet_returns_its_blob_at_full_and_reduced_scale() -> None:
    torch.manual_seed(0)
    model = create_edgenet(width=4)
    rng = np.random.default_rng(0)
    img = rng.integers(0, 255, (300, 400, 3), dtype=np.uint8)
    blob = _bar(300, 400, 100, 140, 180, 152)
    prob = blob.astype(np.float32) * 0.9
    np.testing.assert_array_equal(edgenet_refine(model, img, prob, blob), blob)
    # A large blob is read from a downsized crop and scaled back: the same blob up to its edge pixels.
    img2 = rng.integers(0, 255, (900, 1200, 3), dtype=np.uint8)
    long = _bar(900, 1200, 100, 400, 1000, 460)
    out = edgenet_refine(model, img2, long.astype(np.float32), long)
    assert (out & long).sum() / (out | long).sum() > 0.98
    tiny = _bar(300, 400, 10, 10, 13, 13)  # < 20 px: left alone
    assert edgenet_refine(model, img, prob, tiny) is tiny


def test_holes_of_a_share_of_the_area_are_kept_smaller_ones_filled() -> None:
    """An eye bolt's ring keeps its hole with ``min_hole``; a pinhole is noise and is filled; 0 fills both."""
    torch.manual_seed(0)
    model = create_edgenet(width=4)  # untrained: returns its blob, holes and all
    img = np.random.default_rng(0).integers(0, 255, (200, 200, 3), dtype=np.uint8)
    yy, xx = np.mgrid[:200, :200]
    ring = (np.hypot(yy - 100, xx - 100) <= 50) & (np.hypot(yy - 100, xx - 100) > 20)  # hole ~1,250 px
    pinhole = (yy >= 60) & (yy < 62) & (xx >= 100) & (xx < 102)  # 4 px, in the ring
    blob = ring & ~pinhole
    prob = blob.astype(np.float32)
    disc = np.hypot(yy - 100, xx - 100) <= 50
    np.testing.assert_array_equal(edgenet_refine(model, img, prob, blob), disc)
    np.testing.assert_array_equal(edgenet_refine(model, img, prob, blob, min_hole=0.02), ring)
    # a hole under the share is filled: 1,250 px is 18 % of the ring's area
    np.testing.assert_array_equal(edgenet_refine(model, img, prob, blob, min_hole=0.25), disc)
    for bad in (-0.1, 1.0):
        with pytest.raises(ConfigError, match="edgenet_min_hole"):
            LocateConfig(edgenet_min_hole=bad)


def test_input_channels_are_centred_rgb_probability_and_blob() -> None:
    img = np.full((200, 200, 3), 255, np.uint8)
    blob = _bar(200, 200, 90, 60, 110, 140)
    prob = np.full((200, 200), 0.25, np.float32)
    crop = edge_crop(blob, EdgeNetArch())
    x = edge_input(img, prob, blob, crop)
    assert x.shape == (5, crop.y1 - crop.y0, crop.x1 - crop.x0)
    assert np.allclose(x[:3], 0.5) and np.allclose(x[3], 0.25)
    assert x[4].sum() == blob.sum()


class _Masks:
    classes = ("screw", "coin")

    def __init__(self, screw: np.ndarray):
        self.screw = screw

    def predict(self, image: np.ndarray) -> Segmentation:
        check_image(image)
        probs = np.stack([self.screw, np.zeros_like(self.screw)]).astype(np.float32)
        return Segmentation(probs, self.classes, {"screw": clean_instances(probs[0], 0.5, 12), "coin": []})


class _Shrink(torch.nn.Module):
    """A stand-in EdgeNet that answers the blob eroded by one pixel (to see the locator use its answer)."""

    arch = EdgeNetArch()

    def __init__(self) -> None:
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        m = x[:, 4:5]
        eroded = -torch.nn.functional.max_pool2d(-m, 3, 1, 1)
        return 10.0 * (2.0 * eroded - 1.0) + self.w


def test_locator_redraws_the_main_mask_with_edgenet_and_can_be_told_not_to() -> None:
    img = np.full((200, 300, 3), 40, np.uint8)
    blob = _bar(200, 300, 40, 90, 200, 110)
    img[blob] = 220  # a bright bar on a dark table: GrabCut keeps the blob as it is
    loc = Locator(_Masks(blob), None, LocateConfig(), edgenet=_Shrink())
    s = loc.locate(img).screws[0]
    assert s.mask.sum() == 158 * 18  # one pixel off each side
    assert loc.with_config(coin="euro_1").edgenet is not None
    off = loc.with_config(use_edgenet=False).locate(img).screws[0]
    assert off.mask.sum() == 160 * 20
    exact = loc.with_config(refine_edges=False).locate(img).screws[0]  # exact masks stay as they are
    assert exact.mask.sum() == 160 * 20


def test_load_edgenet_round_trip_and_missing_files(tmp_path, monkeypatch) -> None:
    torch.manual_seed(1)
    model = create_edgenet(width=4).eval()
    torch.nn.init.normal_(model.out.weight)
    path = save_checkpoint(tmp_path / "e.safetensors", model, arch=arch_dict(model.arch))
    back = load_edgenet(path)
    assert back is not None
    x = torch.rand(1, 5, 32, 48)
    with torch.inference_mode():
        torch.testing.assert_close(back(x), model(x))
    monkeypatch.setenv("FVW_MODELS", str(tmp_path / "empty"))
    assert load_edgenet() is None  # nothing shipped: GrabCut's outlines stay
    with pytest.raises(CheckpointError):
        load_edgenet(required=True)
    with pytest.raises(CheckpointError):
        load_edgenet(tmp_path / "missing.safetensors")


def _toy_crops(n: int, seed: int) -> list[np.ndarray]:
    """Bright bars on dark noise; the blob is the true bar grown by two pixels (a systematic error)."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        h, w = 48, 64
        y0, x0 = rng.integers(8, 20), rng.integers(8, 20)
        truth = _bar(h, w, x0, y0, x0 + rng.integers(20, 36), y0 + rng.integers(6, 14))
        blob = np.zeros_like(truth)
        ys, xs = np.nonzero(truth)
        blob[ys.min() - 2 : ys.max() + 3, xs.min() - 2 : xs.max() + 3] = True
        rgb = rng.integers(0, 60, (3, h, w)).astype(np.uint8)
        rgb[:, truth] = 200
        out.append(
            np.concatenate([rgb, blob[None] * 255, blob[None] * 255, truth[None] * 255]).astype(np.uint8)
        )
    return out


def test_training_learns_a_systematic_outline_error() -> None:
    train, val = _toy_crops(40, 0), _toy_crops(10, 1)
    before = crop_iou(None, val)
    model, log = train_edgenet(
        train, val, steps=120, batch=8, window=32, lr=5e-3, width=8, eval_every=40, progress=False
    )
    assert before < 0.7
    assert log[-1]["val_iou_blob"] == pytest.approx(before)
    assert crop_iou(model, val) > before + 0.1


def test_cli_refuses_held_out_seeds_bad_grabcut_settings_and_bad_crop_files(tmp_path, capsys) -> None:
    """One-line errors (exit 2), not tracebacks."""
    assert edgenet_main(["collect", "--seed", "1000011", "--n", "1", "--out", str(tmp_path / "a.npz")]) == 2
    assert "held out" in capsys.readouterr().err
    out = str(tmp_path / "a.npz")
    assert (
        edgenet_main(["collect", "--seed", "91", "--n", "1", "--grabcut-iterations", "0", "--out", out]) == 2
    )
    assert "iterations must be >= 1" in capsys.readouterr().err and not (tmp_path / "a.npz").exists()
    bad = tmp_path / "bad.npz"
    bad.write_text("not a numpy file")
    with pytest.raises(DatasetError, match="collect"):
        load_crops([str(bad)])
    train = ["train", "--data", str(bad), "--val", str(bad), "--out", str(tmp_path / "e.safetensors")]
    assert edgenet_main(train) == 2
    assert "collect" in capsys.readouterr().err


def test_collect_cuts_the_blob_and_the_truth_the_same_way(tmp_path) -> None:
    out = tmp_path / "c.npz"
    assert edgenet_main(["collect", "--seed", "91", "--n", "3", "--out", str(out)]) == 0
    crops = load_crops([str(out)])
    assert 1 <= len(crops) <= 3
    for c in crops:
        assert c.dtype == np.uint8 and c.shape[0] == 6 and min(c.shape[1:]) >= 96
        blob, truth = c[4] >= 128, c[5] >= 128
        assert (blob & truth).sum() / (blob | truth).sum() > 0.3  # the blob on the true screw, not clutter


@pytest.mark.parametrize("views", [2, 4])
def test_edge_views_average_the_logits_of_the_mirrored_crops_mirrored_back(views: int) -> None:
    from core.segment.edgenet import edge_logits

    torch.manual_seed(1)
    model = create_edgenet(width=4).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.3 * torch.randn_like(p))  # not mirror-symmetric: each view answers differently
    # multiples of 8: no padding (a padded crop is padded once, at its bottom / right, before it is mirrored)
    x = np.random.default_rng(1).normal(size=(5, 40, 56)).astype(np.float32)
    one = edge_logits(model, x)
    lr = edge_logits(model, np.ascontiguousarray(x[:, :, ::-1]))[:, ::-1]
    want = [one, lr]
    if views == 4:
        want += [
            edge_logits(model, np.ascontiguousarray(x[:, ::-1]))[::-1],
            edge_logits(model, np.ascontiguousarray(x[:, ::-1, ::-1]))[::-1, ::-1],
        ]
    got = edge_logits(model, x, views)
    assert edge_logits(model, x[:, :37, :51], views).shape == (37, 51)
    assert not np.allclose(one, lr, atol=1e-3)  # the check below could fail
    np.testing.assert_allclose(got, np.mean(want, axis=0), rtol=2e-3, atol=1e-3)  # float sums in other orders
    with pytest.raises(ConfigError, match="1, 2, 4"):
        edge_logits(model, x, 3)
    with pytest.raises(ConfigError, match="edgenet_views"):
        LocateConfig(edgenet_views=3)
