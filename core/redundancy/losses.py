"""Losses of the study: multi-class focal loss and Hinton knowledge distillation."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from core.errors import ConfigError

__all__ = ["focal_loss", "distillation_loss"]


def focal_loss(logits: torch.Tensor, target: torch.Tensor, gamma: float = 0.5) -> torch.Tensor:
    """Multi-class focal loss, mean over the batch: ``-(1 - p_t)^gamma * log p_t``.

    Args:
        logits: (B, K) unnormalised scores.
        target: (B,) class indices.
        gamma: Focusing parameter >= 0; 0 gives plain cross-entropy.

    Returns:
        Scalar tensor.
    """
    if gamma < 0:
        raise ConfigError(f"focal gamma must be >= 0, got {gamma}", field="gamma")
    logp = F.log_softmax(logits.float(), dim=1)  # (B, K)
    logp_t = logp.gather(1, target[:, None]).squeeze(1)  # (B,)
    if gamma == 0:
        return -logp_t.mean()
    p_t = logp_t.exp()
    return (-((1.0 - p_t).clamp(min=0.0) ** gamma) * logp_t).mean()


def distillation_loss(
    student_logits: torch.Tensor,
    teacher_logits: torch.Tensor,
    target: torch.Tensor,
    *,
    temperature: float = 4.0,
    alpha: float = 0.7,
    gamma: float = 0.5,
) -> torch.Tensor:
    """Hinton KD: ``alpha * T^2 * KL(softmax(t/T) || softmax(s/T)) + (1 - alpha) * focal(s, y)``.

    Args:
        student_logits: (B, K).
        teacher_logits: (B, K), treated as constants.
        target: (B,) class indices.
        temperature: Softening temperature T > 0.
        alpha: Weight of the soft-target term in [0, 1].
        gamma: Focal gamma of the hard-label term.
    """
    if temperature <= 0:
        raise ConfigError(f"temperature must be > 0, got {temperature}", field="temperature")
    if not 0.0 <= alpha <= 1.0:
        raise ConfigError(f"alpha must be in [0, 1], got {alpha}", field="alpha")
    t = temperature
    soft_t = F.softmax(teacher_logits.detach().float() / t, dim=1)
    log_s = F.log_softmax(student_logits.float() / t, dim=1)
    kd = F.kl_div(log_s, soft_t, reduction="batchmean") * (t * t)
    hard = focal_loss(student_logits, target, gamma)
    return alpha * kd + (1.0 - alpha) * hard
