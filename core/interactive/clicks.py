"""Simulated clicking: how many clicks a person needs to reach a target IoU (the NoC metric).

The standard protocol (Xu et al. 2016; RITM): the first click goes to the interior point of the object
farthest from its border; each next click goes to the interior point, farthest from its border, of the
largest error region, positive if that region is missed object and negative if it is spill-over.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import cv2
import numpy as np
from numpy.typing import NDArray

from core.errors import InputError
from core.interactive.base import Embedding, MaskBackend, Prompt

__all__ = ["ClickResult", "first_click", "next_click", "iou", "clicks_to_iou"]


def iou(a: NDArray[np.bool_], b: NDArray[np.bool_]) -> float:
    """Intersection over union of two boolean masks (1.0 when both are empty)."""
    union = np.logical_or(a, b).sum()
    return 1.0 if union == 0 else float(np.logical_and(a, b).sum() / union)


def _deepest_point(region: NDArray[np.bool_]) -> tuple[tuple[float, float], float]:
    padded = np.pad(region.astype(np.uint8), 1)
    dist = cv2.distanceTransform(padded, cv2.DIST_L2, 5)[1:-1, 1:-1]
    y, x = np.unravel_index(int(np.argmax(dist)), dist.shape)
    return (float(x), float(y)), float(dist[y, x])


def first_click(gt: NDArray[np.bool_]) -> tuple[float, float]:
    """Where a simulated user first clicks an object: the centre of its innermost pixel (as :func:`next_click`
    with nothing predicted yet), (x, y).

    Raises:
        InputError: an empty ``gt``.
    """
    if not gt.any():
        raise InputError("no object to click: the ground-truth mask is empty")
    (x, y), _ = _deepest_point(gt)
    return x + 0.5, y + 0.5


def next_click(pred: NDArray[np.bool_], gt: NDArray[np.bool_]) -> tuple[tuple[float, float], int] | None:
    """Where a simulated user clicks next: ((x, y), label), or None when prediction equals ground truth."""
    fn = gt & ~pred
    fp = pred & ~gt
    if not fn.any() and not fp.any():
        return None
    p_fn, d_fn = _deepest_point(fn) if fn.any() else ((0.0, 0.0), -1.0)
    p_fp, d_fp = _deepest_point(fp) if fp.any() else ((0.0, 0.0), -1.0)
    return (p_fn, 1) if d_fn >= d_fp else (p_fp, 0)


@dataclass
class ClickResult:
    """Outcome of one simulated session on one object."""

    clicks: int  # clicks used to reach the target, or max_clicks + 1 if never reached
    ious: list[float] = field(default_factory=list)  # IoU after each click
    click_ms: list[float] = field(default_factory=list)  # predict latency per click (embedding excluded)
    reached: bool = False


def clicks_to_iou(
    backend: MaskBackend,
    embedding: Embedding,
    gt: NDArray[np.bool_],
    *,
    target: float = 0.9,
    max_clicks: int = 20,
) -> ClickResult:
    """Click until the mask reaches ``target`` IoU with ``gt`` (H, W bool) or ``max_clicks`` run out."""
    prompt = Prompt()
    pred = np.zeros_like(gt, dtype=bool)
    result = ClickResult(clicks=max_clicks + 1)
    for k in range(1, max_clicks + 1):
        click = next_click(pred, gt)
        if click is None:
            break
        prompt = prompt.add(*click)
        t0 = time.perf_counter()
        pred = backend.predict(embedding, prompt)
        result.click_ms.append((time.perf_counter() - t0) * 1000.0)
        result.ious.append(iou(pred, gt))
        if result.ious[-1] >= target:
            result.clicks, result.reached = k, True
            break
    return result
