"""Attribute classifiers (head, tip: timm backbones with transfer learning; thread: StripNet; finish: ColorNet)."""

from __future__ import annotations

from core.attributes.ablation import ARMS, AblationConfig, AblationRow, ablation_markdown, run_ablation
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
from core.attributes.stripnet import StripNet, StripNetConfig
from core.attributes.views import VIEW_SIZE, ablation_views, box_view, photo_view

__all__ = [
    "ARMS",
    "BACKBONES",
    "FORBIDDEN",
    "POLICY_NOTES",
    "VIEW_SIZE",
    "AblationConfig",
    "AblationRow",
    "ClassifierConfig",
    "ColorNet",
    "ColorNetConfig",
    "PlainNet",
    "StripNet",
    "StripNetConfig",
    "UnfreezeSchedule",
    "ablation_markdown",
    "ablation_views",
    "augment",
    "box_view",
    "build_policy",
    "count_parameters",
    "create_classifier",
    "freeze_stages",
    "load_backbone_weights",
    "model_stages",
    "photo_view",
    "run_ablation",
]
