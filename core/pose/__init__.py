"""Screw pose: axis angle, head side, canonical head-up view and crops; RotationNet for short screws
(:mod:`core.pose.rotationnet`); HeadEndNet (:mod:`core.pose.headend`, trainer :mod:`core.pose.train_headend`)
checks which end of the axis is the head from the photo around the whole screw."""

from __future__ import annotations

from core.pose.canonical import CanonicalScrew, canonicalize, row_widths, split_parts
from core.pose.geometry import (
    AxisEstimate,
    axis_from_mask,
    direction,
    head_side,
    largest_component,
    rotation_to_head_up,
)

__all__ = [
    "AxisEstimate",
    "axis_from_mask",
    "direction",
    "head_side",
    "largest_component",
    "rotation_to_head_up",
    "CanonicalScrew",
    "canonicalize",
    "row_widths",
    "split_parts",
]
