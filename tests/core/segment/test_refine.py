from __future__ import annotations

import cv2
import numpy as np
import pytest

from core.errors import ConfigError
from core.locate import LocateConfig, Locator
from core.segment.predictor import Segmentation, check_image, clean_instances
from core.segment.refine import GrabCutConfig, grabcut_refine


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max(1, (a | b).sum()))


def _scene(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A bright screw-like bar (with a wider head) on a noisy dark background, its true mask, and a blurry,
    too-fat probability map of it (what a low-resolution segmenter gives)."""
    rng = np.random.default_rng(seed)
    h, w = 160, 200
    img = rng.integers(20, 70, (h, w, 3)).astype(np.uint8)
    truth = np.zeros((h, w), np.uint8)
    cv2.rectangle(truth, (60, 70), (150, 84), 1, -1)  # shank, 15 px thick
    cv2.rectangle(truth, (46, 60), (60, 94), 1, -1)  # head
    img[truth > 0] = rng.integers(170, 230, (int(truth.sum()), 3)).astype(np.uint8)
    fat = cv2.dilate(truth, np.ones((3, 3), np.uint8), iterations=4).astype(np.float32)
    prob = cv2.GaussianBlur(fat, (0, 0), 3.0)
    return img, truth.astype(bool), prob


def test_grabcut_pulls_a_fat_blurry_mask_onto_the_object_edges() -> None:
    img, truth, prob = _scene()
    blob = clean_instances(prob, 0.5, 12)[0]
    refined = grabcut_refine(img, prob, blob, GrabCutConfig(ring=0))  # the cut alone
    assert _iou(blob, truth) < 0.85  # the segmenter-like blob is clearly too fat
    assert _iou(refined, truth) > 0.95
    assert _iou(refined, truth) > _iou(blob, truth) + 0.1


def test_ring_adds_back_only_the_blob_pixels_next_to_the_cut() -> None:
    img, _, prob = _scene()
    blob = clean_instances(prob, 0.5, 12)[0]
    cut = grabcut_refine(img, prob, blob, GrabCutConfig(ring=0))
    ringed = grabcut_refine(img, prob, blob)  # default ring = 1 px
    grown = cv2.dilate(cut.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    assert np.array_equal(ringed, cut | (blob & grown))
    assert ringed.sum() > cut.sum()  # the fat blob reaches past the cut everywhere
    with pytest.raises(ConfigError, match="ring"):
        GrabCutConfig(ring=-1)


def test_reach_lets_grabcut_add_back_a_head_the_net_gave_probability_zero() -> None:
    img, truth, _ = _scene()
    shank = np.zeros(truth.shape, np.uint8)
    cv2.rectangle(shank, (60, 70), (150, 84), 1, -1)
    # a net that sees the shank sharply but misses the head (a big flat face) entirely
    prob = cv2.GaussianBlur(shank.astype(np.float32), (0, 0), 1.0)
    blob = clean_instances(prob, 0.5, 12)[0]
    head = truth & ~shank.astype(bool)
    fixed = grabcut_refine(img, prob, blob, GrabCutConfig(ring=0))  # reach 1 shank width by default
    stuck = grabcut_refine(img, prob, blob, GrabCutConfig(ring=0, reach=0.0))
    assert (stuck & head).sum() < 0.05 * head.sum()  # fixed as background: nothing to recover
    assert (fixed & head).sum() > 0.9 * head.sum()
    assert _iou(fixed, truth) > 0.95 > _iou(stuck, truth) + 0.2
    with pytest.raises(ConfigError, match="reach"):
        GrabCutConfig(reach=-0.5)


def test_grabcut_is_deterministic() -> None:
    img, _, prob = _scene(1)
    blob = clean_instances(prob, 0.5, 12)[0]
    cv2.setRNGSeed(123)  # whatever state the caller left behind
    a = grabcut_refine(img, prob, blob)
    cv2.setRNGSeed(7)
    b = grabcut_refine(img, prob, blob)
    assert np.array_equal(a, b)


def test_implausible_or_impossible_refinements_return_the_blob_unchanged() -> None:
    img, _, prob = _scene()
    blob = clean_instances(prob, 0.5, 12)[0]
    # GrabCut shrinks this blob to ~0.62 of its area: accepted by default, refused below min_ratio
    assert grabcut_refine(img, prob, blob) is not blob
    assert grabcut_refine(img, prob, blob, GrabCutConfig(min_ratio=0.9)) is blob
    tiny = np.zeros_like(blob)
    tiny[5:8, 5:8] = True  # 9 px: too small to model
    assert grabcut_refine(img, prob, tiny) is tiny
    # the whole box above bg_prob: no sure background to model -> keep the blob
    ones = np.ones_like(prob)
    assert grabcut_refine(img, ones, blob, GrabCutConfig(pad=0)) is blob


@pytest.mark.parametrize(
    "kwargs",
    [
        {"iterations": 0},
        {"bg_prob": 0.6},
        {"fg_prob": 0.95, "sure_prob": 0.9},
        {"min_ratio": 0.0},
        {"max_ratio": 0.9},
        {"max_pixels": -1},
    ],
)
def test_bad_grabcut_settings_are_refused(kwargs) -> None:
    with pytest.raises(ConfigError):
        GrabCutConfig(**kwargs)


def test_a_large_box_is_cut_shrunk_coarser_but_still_on_the_object() -> None:
    """A screw 3x larger (box ~150,000 px), cut at ~50,000 px and enlarged back: coarser than the full-size cut
    (edge pixels blend when shrunk: ~2 px fatter all round) but far closer to the object than the blob. In the
    search EdgeNet redraws the main outline at full size after it (models/segmenter/MODEL_CARD.md, session 11)."""
    img, truth, prob = _scene()
    big = (img.shape[1] * 3, img.shape[0] * 3)
    img = cv2.resize(img, big, interpolation=cv2.INTER_NEAREST)
    truth = cv2.resize(truth.astype(np.uint8), big, interpolation=cv2.INTER_NEAREST) > 0
    prob = cv2.resize(prob, big, interpolation=cv2.INTER_LINEAR)
    blob = clean_instances(prob, 0.5, 12)[0]
    full = grabcut_refine(img, prob, blob, GrabCutConfig(ring=0, max_pixels=0))
    shrunk = grabcut_refine(img, prob, blob, GrabCutConfig(ring=0, max_pixels=50_000))
    assert _iou(blob, truth) < 0.65
    assert _iou(full, truth) > 0.95
    assert 0.83 < _iou(shrunk, truth) < _iou(full, truth) and shrunk.shape == truth.shape
    assert 1.0 < shrunk.sum() / full.sum() < 1.25


class _BlurrySegmenter:
    classes = ("screw", "coin")

    def __init__(self, prob: np.ndarray):
        self.prob = prob

    def predict(self, image: np.ndarray) -> Segmentation:
        check_image(image)
        probs = np.stack([self.prob, np.zeros_like(self.prob)]).astype(np.float32)
        return Segmentation(probs, self.classes, {"screw": clean_instances(probs[0], 0.5, 12), "coin": []})


def test_locator_refines_screw_masks_only_when_asked() -> None:
    img, truth, prob = _scene()
    seg = _BlurrySegmenter(prob)
    raw = Locator(seg, None, LocateConfig(refine_edges=False)).locate(img)
    ref = Locator(seg, None, LocateConfig()).locate(img)
    assert np.array_equal(raw.screws[0].mask, clean_instances(prob, 0.5, 12)[0])
    assert _iou(ref.screws[0].mask, truth) > _iou(raw.screws[0].mask, truth) + 0.1
    # the result's segmentation (drawn in the overlay) holds the refined mask too
    assert np.array_equal(ref.segmentation.instances["screw"][0], ref.screws[0].mask)
    # the refined shank is measured closer to its true 15 px
    assert abs(ref.screws[0].diameter_px - 15) < abs(raw.screws[0].diameter_px - 15)


def test_locator_adds_the_ring_only_when_the_net_saw_the_photo_at_full_size() -> None:
    from dataclasses import replace

    img, _, prob = _scene()
    blob = clean_instances(prob, 0.5, 12)[0]
    cut = grabcut_refine(img, prob, blob, GrabCutConfig(ring=0))
    ringed = grabcut_refine(img, prob, blob, GrabCutConfig(ring=1))
    seg = _BlurrySegmenter(prob)  # its segmentation says scale 1: the net's pass was at the photo's size
    assert np.array_equal(Locator(seg, None).screw_blobs(img).instances["screw"][0], ringed)

    class _Coarse(_BlurrySegmenter):  # upsampled from a pass at half the photo's size
        def predict(self, image: np.ndarray) -> Segmentation:
            return replace(super().predict(image), scale=0.5)

    assert np.array_equal(Locator(_Coarse(prob), None).screw_blobs(img).instances["screw"][0], cut)


def test_segmenter_reports_the_scale_of_its_pass() -> None:
    import torch

    from core.segment.model import create_segmenter
    from core.segment.predictor import Segmenter

    torch.manual_seed(0)
    seg = Segmenter(
        create_segmenter(encoder="tu-mobilenetv3_small_100", decoder_channels=(16, 8, 8, 8, 8)), infer_size=64
    )
    assert seg.predict(np.zeros((48, 64, 3), np.uint8)).scale == 1.0
    assert seg.predict(np.zeros((96, 128, 3), np.uint8)).scale == 0.5
    assert (
        seg.predict(np.zeros((24, 32, 3), np.uint8)).scale == 1.0
    )  # enlarged: still at least the photo's size


def test_locator_cuts_extra_views_at_the_asked_reaches_with_the_main_pose() -> None:
    from core.pose.canonical import canonicalize
    from core.pose.geometry import axis_from_mask

    img, truth, _ = _scene()
    shank = np.zeros(truth.shape, np.uint8)
    cv2.rectangle(shank, (60, 70), (150, 84), 1, -1)
    prob = cv2.GaussianBlur(shank.astype(np.float32), (0, 0), 1.0)  # the head missed by the net
    seg = _BlurrySegmenter(prob)
    blob = clean_instances(prob, 0.5, 12)[0]
    res = Locator(seg, None, LocateConfig(view_reaches=(0.0, 2.0))).locate(img).screws[0]
    assert len(res.views) == 2
    # each view is its own GrabCut cut, turned head-up with the main mask's pose
    for view, reach in zip(res.views, (0.0, 2.0), strict=True):
        m = grabcut_refine(img, prob, blob, GrabCutConfig(reach=reach))
        axis = axis_from_mask(res.mask)
        want = canonicalize(img, m, axis.center, res.angle_deg, axis.length_px)
        assert np.array_equal(view.mask, want.mask)
    assert res.views[0].mask.sum() < 0.8 * res.canonical.mask.sum()  # reach 0: no head
    assert not Locator(seg, None, LocateConfig()).locate(img).screws[0].views  # none unless asked
    none = Locator(seg, None, LocateConfig(view_reaches=(0.0,), refine_edges=False)).locate(img)
    assert not none.screws[0].views  # no GrabCut, no cuts
    with pytest.raises(ConfigError, match="view_reaches"):
        LocateConfig(view_reaches=(-1.0,))
