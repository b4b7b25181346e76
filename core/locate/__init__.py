"""Locate CLI and pipeline: segment -> pose -> measure (``python -m core.locate photo.jpg --out dir``)."""

from __future__ import annotations

from core.locate.click import check_click, parse_click
from core.locate.pipeline import Locator
from core.locate.types import LocateConfig, LocateResult, ScrewResult, matching_screw, touches_border

__all__ = [
    "LocateConfig",
    "LocateResult",
    "Locator",
    "ScrewResult",
    "check_click",
    "matching_screw",
    "parse_click",
    "touches_border",
]
