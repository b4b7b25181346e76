"""The locator's coin: which coin blob is the reference, and its scale from the photo's own edges."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from core.locate.types import LocateConfig
from core.measure import (
    CoinScale,
    EllipseFit,
    coin_disc,
    coin_scale,
    ellipse_mask,
    fit_ellipse,
    refine_ellipse_on_edges,
    scale_from_ellipse,
)
from core.segment.predictor import Segmentation

__all__ = ["mean_prob", "rank_coins", "edge_ellipse", "reference_scale"]


def mean_prob(seg: Segmentation, cls: str, mask: NDArray[np.bool_]) -> float:
    """Mean probability of class ``cls`` over ``mask`` (0 when the segmenter has no such class or the mask is
    empty): how sure the segmenter is of a blob, used to rank coins and screws."""
    if cls not in seg.classes or not mask.any():
        return 0.0
    return float(seg.probs[seg.classes.index(cls)][mask].mean())


def rank_coins(
    seg: Segmentation, coins: list[NDArray[np.bool_]], config: LocateConfig
) -> list[NDArray[np.bool_]]:
    """Coin blobs, most coin-like first (disc-shaped, then mean probability), redrawn as discs when asked
    (``coin_disc``) and cut to ``max_coins``."""
    ranked = []
    for m in coins:
        disc = coin_disc(m, robust=config.coin_robust)
        keep = disc if (disc is not None and config.coin_disc) else m
        ranked.append((disc is not None, mean_prob(seg, "coin", m), keep))
    ranked.sort(key=lambda t: (not t[0], -t[1]))
    out = [m for _, _, m in ranked]
    return out[: config.max_coins] if config.max_coins > 0 else out


def edge_ellipse(
    image: NDArray[np.uint8], mask: NDArray[np.bool_], config: LocateConfig, coin_edgenet: Any | None = None
) -> EllipseFit | None:
    """The coin blob's outline moved onto the photo's edges, or None when no fit is accepted.

    The colour step (:func:`core.measure.coin_edges.refine_ellipse_on_edges`) moves only a blob that is an
    ellipse already (a redrawn disc, RMS <= 1 px): a ragged one has no outline to move. A CoinEdgeNet
    (:mod:`core.measure.coin_edgenet`) also starts from a ragged blob's ellipse (a 1280 px photo's coin drawn at
    512 px is a few pixels off; it reads ``half_length`` px either side, pass after pass), but not from a blob
    that is a coin and something else (a finger, gravel: RMS over ``coin_ragged_rms`` x the long semi-axis);
    when its fit is refused the colour step follows (``coin_edges_fallback``).
    """
    fit = fit_ellipse(mask)
    if fit is None:
        return None
    smooth = fit.residual_rms <= 1.0
    if coin_edgenet is not None and (smooth or fit.residual_rms <= config.coin_ragged_rms * fit.a):
        from core.measure.coin_edgenet import refine_ellipse_learned

        edge = refine_ellipse_learned(image, fit, coin_edgenet, passes=config.coin_edge_passes)
        if edge is not None or not config.coin_edges_fallback:
            return edge
    return refine_ellipse_on_edges(image, fit) if smooth else None


def reference_scale(
    image: NDArray[np.uint8], mask: NDArray[np.bool_], config: LocateConfig, coin_edgenet: Any | None = None
) -> tuple[CoinScale, NDArray[np.bool_] | None]:
    """The scale of the reference coin and, when its outline was moved onto the photo's edges
    (``coin_edges``: :func:`edge_ellipse`), the coin's new mask (else None: the mask stays).

    Raises:
        NoCoinFoundError: empty mask.
    """
    edge = edge_ellipse(image, mask, config, coin_edgenet) if config.coin_edges else None
    if edge is not None:
        return scale_from_ellipse(edge, config.coin), ellipse_mask(mask.shape, edge)
    return coin_scale(mask, config.coin), None
