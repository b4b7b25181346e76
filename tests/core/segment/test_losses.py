from __future__ import annotations

import pytest
import torch

from core.segment.losses import dice_loss, masked_bce, tversky_index, tversky_loss

BIG = 50.0  # sigmoid(50) == 1.0 in float32, so logits act as hard 0/1 predictions


def _case() -> tuple[torch.Tensor, torch.Tensor]:
    # 1x1x1x4 image: prediction [1, 1, 0, 0], target [1, 0, 1, 1] -> TP=1, FP=1, FN=2
    pred = torch.tensor([1.0, 1.0, 0.0, 0.0]).view(1, 1, 1, 4)
    target = torch.tensor([1.0, 0.0, 1.0, 1.0]).view(1, 1, 1, 4)
    return pred, target


def test_alpha_weighs_false_positives_beta_false_negatives() -> None:
    pred, target = _case()
    ti = tversky_index(pred, target, alpha=0.3, beta=0.7, smooth=0.0)
    assert ti.item() == pytest.approx(1.0 / (1.0 + 0.3 * 1 + 0.7 * 2))  # 1 / 2.7
    swapped = tversky_index(pred, target, alpha=0.7, beta=0.3, smooth=0.0)
    assert swapped.item() == pytest.approx(1.0 / (1.0 + 0.7 * 1 + 0.3 * 2))  # 1 / 2.3


def test_tversky_loss_from_logits_and_dice_is_half_half() -> None:
    pred, target = _case()
    logits = (pred * 2 - 1) * BIG
    assert tversky_loss(logits, target, smooth=0.0).item() == pytest.approx(1 - 1 / 2.7, abs=1e-6)
    # Dice = 2TP / (2TP + FP + FN) = 2 / 5
    assert dice_loss(logits, target, smooth=0.0).item() == pytest.approx(1 - 2 / 5, abs=1e-6)


def test_partial_labels_ignore_unlabelled_channels() -> None:
    target = torch.zeros(2, 2, 2, 2)
    target[:, 0] = 1.0  # screw everywhere, coin nowhere
    logits = torch.full((2, 2, 2, 2), -BIG)
    logits[:, 0] = BIG  # screw perfect
    logits[1, 1] = BIG  # image 1 predicts coin everywhere (wrong if coin were labelled)
    only_screw = torch.tensor([[1.0, 0.0], [1.0, 0.0]])
    assert tversky_loss(logits, target, only_screw).item() == pytest.approx(0.0, abs=1e-6)
    all_labelled = torch.ones(2, 2)
    assert tversky_loss(logits, target, all_labelled).item() > 0.1
    assert masked_bce(logits, target, only_screw).item() == pytest.approx(0.0, abs=1e-6)
    assert masked_bce(logits, target, all_labelled).item() > 1.0


def test_no_labelled_channel_gives_zero_not_nan() -> None:
    logits = torch.randn(1, 2, 4, 4, requires_grad=True)
    loss = tversky_loss(logits, torch.zeros(1, 2, 4, 4), torch.zeros(1, 2))
    loss.backward()
    assert loss.item() == 0.0 and torch.isfinite(logits.grad).all()
