"""Attribute classifier factory, head swap from a local checkpoint, freezing schedule, ColorNet."""

from __future__ import annotations

import pytest
import torch

from core.attributes import (
    ClassifierConfig,
    ColorNet,
    ColorNetConfig,
    PlainNet,
    UnfreezeSchedule,
    count_parameters,
    create_classifier,
    freeze_stages,
    model_stages,
)
from core.errors import CheckpointError, ConfigError


def _cfg(n: int = 5) -> ClassifierConfig:
    return ClassifierConfig(backbone="lcnet_050", num_classes=n)


def test_forward_shape():
    m = create_classifier(_cfg()).eval()
    assert m(torch.rand(2, 3, 64, 64)).shape == (2, 5)


def test_unknown_backbone_lists_valid_ones():
    with pytest.raises(ConfigError, match="mobilenetv3_small_100"):
        ClassifierConfig(backbone="resnet9000")


def test_transfer_from_local_checkpoint_swaps_the_head(tmp_path):
    torch.save(create_classifier(_cfg(1000)).state_dict(), tmp_path / "imagenet.pth")
    src = torch.load(tmp_path / "imagenet.pth", weights_only=True)
    m = create_classifier(_cfg(7), checkpoint=tmp_path / "imagenet.pth")
    own = m.state_dict()
    assert torch.equal(own["conv_stem.weight"], src["conv_stem.weight"])  # backbone carried over
    assert own["classifier.weight"].shape[0] == 7  # head swapped


def test_checkpoint_of_another_architecture_is_refused(tmp_path):
    other = create_classifier(ClassifierConfig(backbone="mobilenetv3_small_050", num_classes=5))
    torch.save(other.state_dict(), tmp_path / "other.pth")
    with pytest.raises(CheckpointError, match="another architecture"):
        create_classifier(_cfg(), checkpoint=tmp_path / "other.pth")


def test_freeze_and_unfreeze_schedule():
    m = create_classifier(_cfg())
    total = sum(p.numel() for p in m.parameters())
    n_stages = len(model_stages(m))
    trainable = [freeze_stages(m, k) for k in range(n_stages + 1)]
    assert trainable[0] == total
    assert all(a >= b for a, b in zip(trainable, trainable[1:], strict=False))
    assert trainable[-1] < total and trainable[-1] > 0  # the head always trains
    stem = model_stages(m)[0][0]
    freeze_stages(m, 1)
    assert not any(p.requires_grad for p in stem.parameters())
    sched = UnfreezeSchedule({0: n_stages, 2: 1, 4: 0})
    assert [sched.frozen_at(e) for e in range(6)] == [n_stages, n_stages, 1, 1, 0, 0]
    assert sched.apply(m, 5) == total
    with pytest.raises(ConfigError):
        freeze_stages(m, n_stages + 1)


def test_colornet_two_branches_and_plain_baseline_of_similar_size():
    cfg = ColorNetConfig(num_classes=15, width=8)
    a, b = ColorNet(cfg), PlainNet(cfg)
    assert a(torch.rand(3, 3, 48, 48)).shape == (3, 15)
    assert b(torch.rand(3, 3, 48, 48)).shape == (3, 15)
    ratio = count_parameters(a) / count_parameters(b)
    assert 0.8 < ratio < 1.25
    # The two branches are independent parameters, not one shared module.
    assert a.branch_a[0].weight.data_ptr() != a.branch_b[0].weight.data_ptr()
