"""Per-attribute augmentation that never changes the class (albumentations).

Each attribute's policy is written down here, next to the transform list, and tested in
``tests/core/attributes/test_augment.py`` (augment a sample many times; the class-defining property holds).

=========  ====================================================  =========================================
attribute  allowed                                               forbidden, and why
=========  ====================================================  =========================================
head       mirror left-right, small rotate/scale/shift, any      vertical flip / 180 deg turns (crops are
           colour, blur, noise, JPEG                             canonical head-up; upside-down heads are
                                                                 not in the data)
tip        same as head                                          vertical flip (tip-down is canonical)
thread     mirror left-right; shrink the strip by at most 8 %    vertical flip / 180 deg turns (swap head
           and shift it sideways (the whole shank stays in the   and tip: the thread would start at the
           strip); any colour, blur, noise, JPEG                 wrong end); crops, zoom-in, rotation and
                                                                 vertical shifts (they cut the shank's
                                                                 ends, i.e. the evidence of where the
                                                                 thread starts)
finish     flips both ways, 90 deg turns, small affine, blur,    hue, saturation, colour jitter, RGB shift,
           noise, JPEG                                           channel shuffle, gray, brightness/contrast
                                                                 (the class *is* the colour and sheen)
=========  ====================================================  =========================================
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from core.errors import InputError

__all__ = ["POLICY_NOTES", "FORBIDDEN", "build_policy", "augment"]

POLICY_NOTES: dict[str, str] = {
    "head": "geometry that keeps the head up (mirror, small affine) + any photometric change",
    "tip": "geometry that keeps the tip down (mirror, small affine) + any photometric change",
    "thread": "mirror, shrink <= 8 %, sideways shift (never swap head and tip, never cut the shank) + photometric",
    "finish": "geometry only (flips, 90 deg turns, affine) + blur/noise/JPEG; never colour or brightness",
}

# Transform class names a policy must never contain, per attribute (checked by tests and at build time).
FORBIDDEN: dict[str, frozenset[str]] = {
    "head": frozenset({"VerticalFlip", "RandomRotate90", "Transpose", "SquareSymmetry", "D4"}),
    "tip": frozenset({"VerticalFlip", "RandomRotate90", "Transpose", "SquareSymmetry", "D4"}),
    "thread": frozenset(
        {
            "VerticalFlip",
            "RandomRotate90",
            "Transpose",
            "SquareSymmetry",
            "D4",
            "RandomCrop",
            "RandomResizedCrop",
            "RandomSizedCrop",
            "CenterCrop",
            "Crop",
            "CropAndPad",
            "RandomCropFromBorders",
            "ShiftScaleRotate",
            "Rotate",
            "SafeRotate",
        }
    ),
    "finish": frozenset(
        {
            "HueSaturationValue",
            "ColorJitter",
            "RGBShift",
            "ChannelShuffle",
            "ToGray",
            "ToSepia",
            "RandomBrightnessContrast",
            "RandomGamma",
            "CLAHE",
            "PlanckianJitter",
            "FancyPCA",
        }
    ),
}


def _photometric() -> list[Any]:
    import albumentations as A

    return [
        A.RandomBrightnessContrast(brightness_limit=0.25, contrast_limit=0.25, p=0.7),
        A.HueSaturationValue(hue_shift_limit=15, sat_shift_limit=25, val_shift_limit=15, p=0.5),
    ]


def _degrade() -> list[Any]:
    import albumentations as A

    return [
        A.GaussianBlur(blur_limit=(3, 5), p=0.2),
        A.GaussNoise(std_range=(0.01, 0.05), p=0.3),
        A.ImageCompression(quality_range=(40, 95), p=0.3),
    ]


def build_policy(attribute: str) -> Any:
    """The albumentations ``Compose`` for ``attribute`` (raises on unknown names)."""
    import albumentations as A

    small_affine = A.Affine(
        rotate=(-8, 8), scale=(0.9, 1.1), translate_percent=(-0.05, 0.05), border_mode=0, fill=0, p=0.7
    )
    if attribute in ("head", "tip"):
        ts = [A.HorizontalFlip(p=0.5), small_affine, *_photometric(), *_degrade()]
    elif attribute == "thread":
        # The strip maps the shank's top to row 0 and the tip to the last row: the class is a row position.
        # Only shrinking (scale <= 1, no rotation, no vertical shift) keeps both ends inside the strip.
        keep_ends = A.Affine(
            scale=(0.92, 1.0),
            translate_percent={"x": (-0.08, 0.08), "y": (0.0, 0.0)},
            rotate=0,
            border_mode=0,
            fill=0,
            p=0.7,
        )
        ts = [A.HorizontalFlip(p=0.5), keep_ends, *_photometric(), *_degrade()]
    elif attribute == "finish":
        ts = [
            A.HorizontalFlip(p=0.5),
            A.VerticalFlip(p=0.5),
            A.RandomRotate90(p=0.5),
            A.Affine(rotate=(-20, 20), scale=(0.85, 1.15), border_mode=0, fill=0, p=0.7),
            *_degrade(),
        ]
    else:
        raise InputError(f"no augmentation policy for {attribute!r}; valid: {', '.join(POLICY_NOTES)}")
    bad = {type(t).__name__ for t in ts} & FORBIDDEN[attribute]
    assert not bad, f"policy for {attribute} contains forbidden transforms {bad}"
    return A.Compose(ts)


def augment(attribute: str, image: NDArray[np.uint8], seed: int | None = None) -> NDArray[np.uint8]:
    """Augment one (H, W, 3) uint8 crop with ``attribute``'s policy (deterministic for a seed)."""
    policy = build_policy(attribute)
    if seed is not None:
        policy.set_random_seed(seed)
    return policy(image=image)["image"]
