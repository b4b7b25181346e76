"""Measurement: coin circle fit -> pixels per mm; screw length and shank diameter in mm.

The coin's edge network (:mod:`core.measure.coin_edgenet`, its trainer :mod:`core.measure.train_coin_edgenet`)
needs torch and is not re-exported here, so that importing this package stays light.
"""

from __future__ import annotations

from core.measure.coin import (
    COIN_DIAMETERS_MM,
    DEFAULT_COIN,
    CircleFit,
    CoinScale,
    EllipseFit,
    coin_disc,
    coin_scale,
    ellipse_mask,
    fit_circle,
    fit_ellipse,
    kasa_fit,
)
from core.measure.coin_edges import refine_ellipse_on_edges, scale_from_ellipse
from core.measure.screw import (
    HeadHeight,
    ScrewSize,
    head_height_px,
    length_px_along_axis,
    measure_screw,
    shank_diameter_px,
)

__all__ = [
    "COIN_DIAMETERS_MM",
    "DEFAULT_COIN",
    "CircleFit",
    "CoinScale",
    "coin_scale",
    "EllipseFit",
    "fit_ellipse",
    "coin_disc",
    "ellipse_mask",
    "refine_ellipse_on_edges",
    "scale_from_ellipse",
    "fit_circle",
    "kasa_fit",
    "HeadHeight",
    "ScrewSize",
    "head_height_px",
    "length_px_along_axis",
    "measure_screw",
    "shank_diameter_px",
]
