"""Measurement: coin circle fit -> pixels per mm; screw length and shank diameter in mm."""

from __future__ import annotations

from core.measure.coin import (
    COIN_DIAMETERS_MM,
    DEFAULT_COIN,
    CircleFit,
    CoinScale,
    coin_scale,
    fit_circle,
    kasa_fit,
)
from core.measure.screw import ScrewSize, length_px_along_axis, measure_screw, shank_diameter_px

__all__ = [
    "COIN_DIAMETERS_MM",
    "DEFAULT_COIN",
    "CircleFit",
    "CoinScale",
    "coin_scale",
    "fit_circle",
    "kasa_fit",
    "ScrewSize",
    "length_px_along_axis",
    "measure_screw",
    "shank_diameter_px",
]
