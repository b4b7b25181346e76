"""Attribute classifiers (head, tip, thread: timm backbones with transfer learning; finish: ColorNet)."""

from __future__ import annotations

from core.attributes.augment import FORBIDDEN, POLICY_NOTES, augment, build_policy
from core.attributes.colornet import ColorNet, ColorNetConfig, PlainNet, count_parameters
from core.attributes.models import (
    BACKBONES,
    ClassifierConfig,
    UnfreezeSchedule,
    create_classifier,
    freeze_stages,
    load_backbone_weights,
    model_stages,
)

__all__ = [
    "BACKBONES",
    "FORBIDDEN",
    "POLICY_NOTES",
    "ClassifierConfig",
    "ColorNet",
    "ColorNetConfig",
    "PlainNet",
    "UnfreezeSchedule",
    "augment",
    "build_policy",
    "count_parameters",
    "create_classifier",
    "freeze_stages",
    "load_backbone_weights",
    "model_stages",
]
