"""Augmentation policies never change the class: checked on samples, not just on the transform list."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from core.attributes import FORBIDDEN, augment, build_policy
from core.errors import InputError


def _head_up_sample() -> np.ndarray:
    """A canonical screw crop: wide head block on top, narrow shank below, on black."""
    img = np.zeros((96, 64, 3), np.uint8)
    cv2.rectangle(img, (12, 6), (52, 26), (200, 180, 90), -1)  # head
    cv2.rectangle(img, (27, 26), (37, 90), (190, 170, 80), -1)  # shank
    return img


def _top_heavy(img: np.ndarray) -> bool:
    gray = cv2.GaussianBlur(cv2.cvtColor(img, cv2.COLOR_RGB2GRAY), (5, 5), 0)
    _, fg = cv2.threshold(gray, 0, 1, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    h = fg.shape[0]
    return fg[: h // 2].sum() > fg[h // 2 :].sum()


@pytest.mark.parametrize("attribute", ["head", "tip", "thread"])
def test_geometry_keeps_head_up(attribute):
    sample = _head_up_sample()
    assert _top_heavy(sample)
    for seed in range(40):
        assert _top_heavy(augment(attribute, sample, seed=seed)), (
            f"{attribute} seed {seed} turned the head down"
        )


def test_finish_colour_is_preserved():
    rng = np.random.default_rng(0)
    base = np.zeros((64, 64, 3), np.uint8)
    base[8:56, 8:56] = (181, 166, 66)  # brass-like
    base = np.clip(base.astype(int) + rng.integers(-6, 7, base.shape), 0, 255).astype(np.uint8)

    def chroma(img: np.ndarray) -> np.ndarray:
        lab = cv2.cvtColor(img, cv2.COLOR_RGB2LAB).reshape(-1, 3).astype(float)
        fg = lab[:, 0] > 0.8 * np.median(lab[lab[:, 0] > 40, 0])  # the object's interior, not blurred edges
        return np.median(lab[fg], axis=0)

    ref = chroma(base)
    for seed in range(30):
        got = chroma(augment("finish", base, seed=seed))
        assert np.abs(got - ref).max() < 6.0, (seed, got, ref)


def test_a_colour_policy_would_fail_the_finish_check():
    # The check above is not vacuous: a hue shift moves the chroma far more than its tolerance.
    import albumentations as A

    base = np.zeros((64, 64, 3), np.uint8)
    base[8:56, 8:56] = (181, 166, 66)
    shifted = A.HueSaturationValue(hue_shift_limit=(30, 30), sat_shift_limit=0, val_shift_limit=0, p=1)(
        image=base
    )["image"]
    lab = [cv2.cvtColor(x, cv2.COLOR_RGB2LAB)[32, 32].astype(float) for x in (base, shifted)]
    assert np.abs(lab[0] - lab[1]).max() > 6.0


@pytest.mark.parametrize("attribute", ["head", "tip", "thread", "finish"])
def test_policies_contain_no_forbidden_transform(attribute):
    names = {type(t).__name__ for t in build_policy(attribute).transforms}
    assert not names & FORBIDDEN[attribute]


def test_unknown_attribute():
    with pytest.raises(InputError, match="valid"):
        build_policy("colour")


def _strip_with_landmarks() -> tuple[np.ndarray, np.ndarray]:
    """A 256 x 32 thread strip (shank fills it) and a landmark mask: 1 = top end, 2 = tip end,
    3 = where the thread starts (row 128), 4 = the rest of the shank."""
    img = np.full((256, 32, 3), 170, np.uint8)
    img[128:, :] = np.where((np.arange(128) // 3 % 2)[:, None, None] == 0, 110, 220)  # thread teeth
    lm = np.full((256, 32), 4, np.uint8)
    lm[:4], lm[-4:], lm[126:131] = 1, 2, 3
    return img, lm


def _landmarks_kept(policy, seeds: int = 40) -> bool:
    """Both ends stay in the strip, head end above the thread start above the tip, start within 8 %."""
    img, lm = _strip_with_landmarks()
    for seed in range(seeds):
        policy.set_random_seed(seed)
        out = policy(image=img, mask=lm)["mask"]
        rows = {k: np.flatnonzero((out == k).any(axis=1)) for k in (1, 2, 3)}
        if any(r.size == 0 for r in rows.values()):
            return False  # an end (or the thread start) was cut off
        top, start, tip = (float(rows[k].mean()) for k in (1, 3, 2))
        if not (top < start < tip) or abs(start - 128) > 0.08 * 256:
            return False
    return True


def test_thread_policy_keeps_shank_ends_and_thread_start():
    assert _landmarks_kept(build_policy("thread"))


@pytest.mark.parametrize("bad", ["flip", "crop", "zoom"])
def test_thread_landmark_check_catches_bad_transforms(bad):
    import albumentations as A

    t = {
        "flip": A.VerticalFlip(p=1),
        "crop": A.RandomResizedCrop(size=(256, 32), scale=(0.5, 0.8), ratio=(0.1, 0.15), p=1),
        "zoom": A.Affine(scale=(1.15, 1.2), p=1),
    }[bad]
    assert not _landmarks_kept(A.Compose([t]))


def test_thread_strip_augment_keeps_shape_and_dtype():
    img, _ = _strip_with_landmarks()
    out = augment("thread", img, seed=3)
    assert out.shape == img.shape and out.dtype == np.uint8
