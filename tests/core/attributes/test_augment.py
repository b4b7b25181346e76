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
