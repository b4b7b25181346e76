from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from core.errors import ConfigError
from core.redundancy.losses import distillation_loss, focal_loss


def test_focal_hand_computed():
    # softmax([0, ln 3]) = [0.25, 0.75]; target 1: p_t = 0.75.
    logits = torch.tensor([[0.0, math.log(3.0)]])
    y = torch.tensor([1])
    want = -(0.25**2) * math.log(0.75)  # 0.017980
    assert focal_loss(logits, y, gamma=2.0).item() == pytest.approx(want, rel=1e-5)
    want_half = -(0.25**0.5) * math.log(0.75)
    assert focal_loss(logits, y, gamma=0.5).item() == pytest.approx(want_half, rel=1e-5)
    # target 0: p_t = 0.25
    assert focal_loss(logits, torch.tensor([0]), gamma=2.0).item() == pytest.approx(
        -(0.75**2) * math.log(0.25), rel=1e-5
    )


def test_gamma_zero_is_cross_entropy_and_gamma_reduces_loss():
    torch.manual_seed(0)
    logits, y = torch.randn(16, 5), torch.randint(0, 5, (16,))
    assert focal_loss(logits, y, 0.0).item() == pytest.approx(F.cross_entropy(logits, y).item(), rel=1e-6)
    assert focal_loss(logits, y, 2.0) < focal_loss(logits, y, 0.5) < focal_loss(logits, y, 0.0)
    with pytest.raises(ConfigError, match="gamma"):
        focal_loss(logits, y, -1.0)


def test_distillation_terms():
    torch.manual_seed(0)
    s, t, y = torch.randn(8, 4), torch.randn(8, 4), torch.randint(0, 4, (8,))
    assert distillation_loss(s, t, y, alpha=0.0, gamma=0.5).item() == pytest.approx(
        focal_loss(s, y, 0.5).item()
    )
    assert distillation_loss(s, s, y, alpha=1.0).item() == pytest.approx(0.0, abs=1e-6)
    T = 2.0
    kl = F.kl_div(F.log_softmax(s / T, 1), F.softmax(t / T, 1), reduction="batchmean") * T * T
    assert distillation_loss(s, t, y, temperature=T, alpha=1.0).item() == pytest.approx(kl.item(), rel=1e-5)
    s.requires_grad_(True)
    distillation_loss(s, t.requires_grad_(True), y).backward()
    assert t.grad is None  # the teacher is a constant
    with pytest.raises(ConfigError):
        distillation_loss(s, t, y, temperature=0)
    with pytest.raises(ConfigError):
        distillation_loss(s, t, y, alpha=1.5)
