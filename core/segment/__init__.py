"""Screw/coin segmenter: U-Net on a light timm encoder, Tversky / Dice losses with partial labels, stateless predictor."""

from __future__ import annotations

from core.segment.losses import SegLoss, dice_loss, masked_bce, tversky_index, tversky_loss
from core.segment.model import (
    CLASSES,
    ENCODERS,
    SegmenterArch,
    SegmenterNet,
    create_segmenter,
    load_segmenter,
)
from core.segment.predictor import Segmentation, Segmenter, check_image, clean_instances

__all__ = [
    "SegLoss",
    "dice_loss",
    "masked_bce",
    "tversky_index",
    "tversky_loss",
    "CLASSES",
    "ENCODERS",
    "SegmenterArch",
    "SegmenterNet",
    "create_segmenter",
    "load_segmenter",
    "Segmentation",
    "Segmenter",
    "check_image",
    "clean_instances",
]
