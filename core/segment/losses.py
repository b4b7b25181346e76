"""Overlap losses for multi-label masks with per-image partial labels.

Convention (pinned by a hand-computed test, because libraries differ): in the Tversky index
``TI = TP / (TP + alpha * FP + beta * FN)`` ``alpha`` weighs false POSITIVES and ``beta`` false NEGATIVES.
``alpha = beta = 0.5`` is the Dice coefficient. ``beta > alpha`` favours recall (thin screws).

Partial labels: ``label_mask`` (B, C) says which class channels were labelled on each image. A photo labelled
only with ``screw`` adds loss on the screw channel only; its coin channel is ignored, not treated as "no coin".
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["tversky_index", "tversky_loss", "dice_loss", "masked_bce", "SegLoss"]


def tversky_index(
    probs: torch.Tensor, target: torch.Tensor, alpha: float, beta: float, smooth: float = 1.0
) -> torch.Tensor:
    """Tversky index per image and class.

    Args:
        probs: (B, C, H, W) probabilities in [0, 1].
        target: (B, C, H, W) 0/1 masks.
        alpha: weight of false positives.
        beta: weight of false negatives.
        smooth: added to numerator and denominator, so an empty target with an empty prediction scores 1.

    Returns:
        (B, C) index in (0, 1].
    """
    target = target.to(probs.dtype)
    tp = (probs * target).sum(dim=(2, 3))  # (B, C)
    fp = (probs * (1.0 - target)).sum(dim=(2, 3))
    fn = ((1.0 - probs) * target).sum(dim=(2, 3))
    return (tp + smooth) / (tp + alpha * fp + beta * fn + smooth)


def _masked_mean(per_item: torch.Tensor, label_mask: torch.Tensor | None) -> torch.Tensor:
    if label_mask is None:
        return per_item.mean()
    w = label_mask.to(per_item.dtype)
    # Zero (not NaN) when a batch has no labelled channel at all, so the step still runs.
    return (per_item * w).sum() / w.sum().clamp_min(1.0)


def tversky_loss(
    logits: torch.Tensor,
    target: torch.Tensor,
    label_mask: torch.Tensor | None = None,
    alpha: float = 0.3,
    beta: float = 0.7,
    smooth: float = 1.0,
) -> torch.Tensor:
    """``1 - TI`` averaged over the labelled (image, class) pairs.

    Args:
        logits: (B, C, H, W) raw scores (sigmoid applied here).
        target: (B, C, H, W) 0/1 masks.
        label_mask: (B, C) 1 where the class was labelled on that image, 0 where unknown; None = all labelled.
        alpha: weight of false positives.
        beta: weight of false negatives.
        smooth: see :func:`tversky_index`.
    """
    ti = tversky_index(torch.sigmoid(logits), target, alpha, beta, smooth)
    return _masked_mean(1.0 - ti, label_mask)


def dice_loss(
    logits: torch.Tensor, target: torch.Tensor, label_mask: torch.Tensor | None = None, smooth: float = 1.0
) -> torch.Tensor:
    """Soft Dice loss = Tversky loss with alpha = beta = 0.5."""
    return tversky_loss(logits, target, label_mask, 0.5, 0.5, smooth)


def masked_bce(
    logits: torch.Tensor, target: torch.Tensor, label_mask: torch.Tensor | None = None
) -> torch.Tensor:
    """Binary cross-entropy averaged over the pixels of labelled (image, class) pairs."""
    per = F.binary_cross_entropy_with_logits(logits, target.to(logits.dtype), reduction="none").mean(
        dim=(2, 3)
    )
    return _masked_mean(per, label_mask)


class SegLoss:
    """Tversky (or Dice) plus an optional masked BCE term, as one callable.

    The BCE term (weight ``bce_weight``) gives dense gradients early in training from random init; the
    overlap term then sets the precision/recall balance.
    """

    def __init__(self, alpha: float = 0.3, beta: float = 0.7, bce_weight: float = 0.5, smooth: float = 1.0):
        self.alpha = alpha
        self.beta = beta
        self.bce_weight = bce_weight
        self.smooth = smooth

    def __call__(
        self, logits: torch.Tensor, target: torch.Tensor, label_mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        loss = tversky_loss(logits, target, label_mask, self.alpha, self.beta, self.smooth)
        if self.bce_weight > 0:
            loss = loss + self.bce_weight * masked_bce(logits, target, label_mask)
        return loss
