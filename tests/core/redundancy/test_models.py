from __future__ import annotations

import pytest
import torch

from core.errors import ConfigError
from core.redundancy.masks import MaskedConv2d
from core.redundancy.models import BACKBONES, build_backbone, count_parameters


def test_registry_and_errors():
    assert {"vgg_tiny", "vgg_small", "vgg16_bn"} <= set(BACKBONES)
    assert sum(1 for x in BACKBONES["vgg16_bn"] if x != "M") == 13
    with pytest.raises(ConfigError, match="valid: vgg_tiny"):
        build_backbone("resnet9", 3)
    with pytest.raises(ConfigError, match="num_classes"):
        build_backbone("vgg_tiny", 1)
    with pytest.raises(ConfigError, match="first_stride"):
        build_backbone("vgg_tiny", 2, first_stride=3)


def test_shapes_width_and_stride():
    x = torch.randn(2, 3, 16, 16)
    teacher = build_backbone("vgg_tiny", 5)
    student = build_backbone("vgg_tiny", 5, width=0.5, first_stride=2)
    assert teacher(x).shape == student(x).shape == (2, 5)
    # conv weights scale with width^2: the student has well under half the parameters
    assert count_parameters(student) < 0.4 * count_parameters(teacher)
    assert sum(p.numel() for p in teacher.parameters()) == count_parameters(teacher)


def test_masked_first_layer_counts_only_kept_taps():
    plain = build_backbone("vgg_tiny", 2, first_stride=2)
    masked = build_backbone("vgg_tiny", 2, first_stride=2, first_mask="GRI0-b")
    assert isinstance(masked.features[0], MaskedConv2d)
    assert count_parameters(plain) - count_parameters(masked) == 8 * 3 * 8  # 8 of 9 taps, 3 in, 8 out
