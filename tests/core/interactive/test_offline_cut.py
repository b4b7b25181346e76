"""The offline backend's "cut" method (local objectness + GrabCut) and its configuration."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from core.errors import ConfigError, InputError
from core.interactive import Prompt, SuperpixelBackend, SuperpixelConfig, clicks_to_iou, iou


def _surface(h: int = 240, w: int = 320, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = np.full((h, w, 3), (70, 140, 90), np.uint8)  # a green mat
    noise = rng.normal(0, 4, (h, w, 3))
    return np.clip(base + cv2.GaussianBlur(noise, (0, 0), 1.0), 0, 255).astype(np.uint8)


def _thin_screw(h: int = 240, w: int = 320) -> tuple[np.ndarray, np.ndarray]:
    """A 9 px wide, 160 px long light bar with a dark rim and thread lines: thinner than a superpixel."""
    img = _surface(h, w)
    gt = np.zeros((h, w), np.uint8)
    cv2.line(gt, (70, 170), (230, 70), 1, 9)
    img[gt > 0] = (200, 200, 205)
    rim = cv2.morphologyEx(gt, cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8)) & gt
    img[rim > 0] = (120, 120, 125)
    for t in np.linspace(0.3, 0.95, 12):
        x, y = int(70 + 160 * t), int(170 - 100 * t)
        cv2.line(img, (x - 3, y - 3), (x + 2, y + 2), (150, 150, 155), 1)
    img = cv2.GaussianBlur(img, (0, 0), 0.7)
    return img, gt.astype(bool)


def test_one_click_cuts_a_thin_screw():
    img, gt = _thin_screw()
    backend = SuperpixelBackend()
    emb = backend.embed(img)
    mask = backend.predict(emb, Prompt(((150.0, 120.0),), (1,)))
    assert mask.dtype == bool and mask.shape == gt.shape
    assert iou(mask, gt) > 0.8


def test_simulated_clicks_reach_target_on_thin_screw():
    img, gt = _thin_screw()
    backend = SuperpixelBackend()
    res = clicks_to_iou(backend, backend.embed(img), gt, target=0.85, max_clicks=5)
    assert res.reached and res.clicks <= 2


def test_object_larger_than_the_first_window():
    # A coin-like disk of radius 70, 12 % darker at its rim: the first 16 px window lies inside it and
    # the click differs from that window's border only by shading, which must not count as an object.
    img = _surface()
    gt = np.zeros(img.shape[:2], np.uint8)
    cv2.circle(gt, (160, 120), 70, 1, -1)
    yy, xx = np.mgrid[0:240, 0:320]
    shade = np.array([150, 120, 60])[None, None] * (1 - 0.12 * np.hypot(xx - 160, yy - 120)[..., None] / 70)
    img[gt > 0] = shade.astype(np.uint8)[gt > 0]
    prompt = Prompt(((160.0, 120.0),), (1,))
    backend = SuperpixelBackend(SuperpixelConfig(cut_start_radius=16))
    assert iou(backend.predict(backend.embed(img), prompt), gt.astype(bool)) > 0.9
    naive = SuperpixelBackend(SuperpixelConfig(cut_start_radius=16, cut_accept_contrast=0.1))
    assert iou(naive.predict(naive.embed(img), prompt), gt.astype(bool)) < 0.5  # the shading trap


def test_negative_click_cuts_off_a_touching_object():
    img = _surface()
    screw = np.zeros(img.shape[:2], np.uint8)
    cv2.rectangle(screw, (60, 110), (180, 124), 1, -1)
    blob = np.zeros_like(screw)
    cv2.circle(blob, (205, 117), 25, 1, -1)
    blob &= 1 - screw
    img[blob > 0] = (200, 80, 60)  # a red distractor touching the screw's tip
    img[screw > 0] = (205, 205, 210)
    backend = SuperpixelBackend()
    emb = backend.embed(img)
    one = backend.predict(emb, Prompt(((110.0, 117.0),), (1,)))
    two = backend.predict(emb, Prompt(((110.0, 117.0), (215.0, 117.0)), (1, 0)))
    gt = screw.astype(bool)
    assert not two[117, 215]
    assert iou(two, gt) > 0.85
    assert iou(two, gt) >= iou(one, gt)


def test_box_only_prompt_and_box_clipping():
    img, gt = _thin_screw()
    backend = SuperpixelBackend()
    emb = backend.embed(img)
    box = (60.0, 60.0, 240.0, 180.0)
    mask = backend.predict(emb, Prompt(box=box))
    assert iou(mask, gt) > 0.7
    half = backend.predict(emb, Prompt(((110.0, 145.0),), (1,), (60.0, 60.0, 150.0, 180.0)))
    assert half.any() and not half[:, 151:].any()


def test_only_negative_clicks_give_empty_mask_and_edge_clicks_are_safe():
    img, _ = _thin_screw()
    backend = SuperpixelBackend()
    emb = backend.embed(img)
    assert not backend.predict(emb, Prompt(((10.0, 10.0),), (0,))).any()
    for xy in ((0.0, 0.0), (319.0, 239.0), (-5.0, 500.0)):  # clamped to the photo
        mask = backend.predict(emb, Prompt((xy,), (1,)))
        assert mask.shape == (240, 320)


def test_walker_method_still_selects_and_takes_a_proposal():
    img, gt = _thin_screw()
    walker = SuperpixelBackend(SuperpixelConfig(method="walker"))
    emb = walker.embed(img)
    assert walker.probability(emb, Prompt(((150.0, 120.0),), (1,))) is not None
    emb2 = walker.embed(img, proposal=gt.astype(np.float32))
    assert walker.probability(emb2, Prompt(((150.0, 120.0),), (1,))) is not None


def test_cut_seeds_a_click_inside_a_proposed_object_with_that_object():
    img, gt = _thin_screw()
    ys, xs = np.nonzero(gt)
    click = Prompt(((float(xs[len(xs) // 2]), float(ys[len(ys) // 2])),), (1,))
    backend = SuperpixelBackend()
    plain = iou(backend.predict(backend.embed(img), click), gt)
    # A proposal that knows the object (slightly fat, as a segmenter's upsampled map is) ...
    fat = cv2.dilate(gt.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(np.float32)
    with_proposal = backend.predict(backend.embed(img, proposal=fat), click)
    assert iou(with_proposal, gt) >= max(0.9, plain - 0.02)
    # ... and one that proposes nothing there changes nothing: the click grows its own window.
    empty = backend.predict(backend.embed(img, proposal=np.zeros(gt.shape, np.float32)), click)
    assert iou(empty, gt) == pytest.approx(plain, abs=0.02)  # GrabCut's k-means start is random


def test_bad_config_and_inputs_are_explained():
    with pytest.raises(ConfigError, match="valid: cut, walker"):
        SuperpixelConfig(method="grabcut")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="cut_half_max"):
        SuperpixelConfig(cut_half_max=1.5)
    with pytest.raises(ConfigError, match="cut_work_side"):
        SuperpixelConfig(cut_work_side=0)
    img, _ = _thin_screw()
    backend = SuperpixelBackend()
    with pytest.raises(InputError, match="does not match"):
        backend.embed(img, proposal=np.zeros((10, 10), np.float32))
    with pytest.raises(InputError, match="walker"):
        backend.probability(backend.embed(img), Prompt(((150.0, 120.0),), (1,)))
