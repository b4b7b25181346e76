"""Data redundancy and distillation study (seed 002): tiling, masked first layer, estimate, student + KD.

Run it with ``python -m core.redundancy study --data DIR --out OUT/``; see :mod:`core.redundancy.study`
for the decision rule. Importing this package is cheap: torch-heavy parts load on use.
"""

from __future__ import annotations

from core.redundancy.command import studio_command, study_command
from core.redundancy.data import ImageSet, load_image_folder, make_studio_folder, stratified_folds
from core.redundancy.losses import distillation_loss, focal_loss
from core.redundancy.masks import MASKS, MaskedConv2d, mask_first_conv, parse_mask
from core.redundancy.models import BACKBONES, BackboneConfig, build_backbone, count_parameters
from core.redundancy.report import DECISION_RULE, render_report, write_report
from core.redundancy.runner import StudyResult, run_study, student_plan
from core.redundancy.study import Estimate, StudyConfig, estimate_redundancy, evaluate_classifier
from core.redundancy.tiling import (
    TILING_FRACTION,
    TILING_METHODS,
    apply_tiling,
    apply_tiling_batch,
    tiling_mask,
)

__all__ = [
    "BACKBONES",
    "DECISION_RULE",
    "MASKS",
    "TILING_FRACTION",
    "TILING_METHODS",
    "BackboneConfig",
    "Estimate",
    "ImageSet",
    "MaskedConv2d",
    "StudyConfig",
    "StudyResult",
    "apply_tiling",
    "apply_tiling_batch",
    "build_backbone",
    "count_parameters",
    "distillation_loss",
    "estimate_redundancy",
    "evaluate_classifier",
    "focal_loss",
    "load_image_folder",
    "make_studio_folder",
    "mask_first_conv",
    "parse_mask",
    "render_report",
    "run_study",
    "stratified_folds",
    "studio_command",
    "study_command",
    "student_plan",
    "tiling_mask",
    "write_report",
]
