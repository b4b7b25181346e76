from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from core.errors import ConfigError
from core.redundancy.masks import MASK_FAMILY, MASKS, MaskedConv2d, mask_first_conv, parse_mask
from core.redundancy.tiling import apply_tiling


def test_the_papers_masks():
    assert len(MASKS) == 11
    hidden = {"REF": 0, "MH0": 1, "CHB0": 4, "GRI0": 5}
    for name, bits in MASKS.items():
        m = parse_mask(name)
        assert m.shape == (3, 3)
        assert "".join(str(int(v)) for v in m.flatten().tolist()) == bits
        # taps zeroed: 1 tap (centre) or 4 (corners / edges) for MH0, 4-5 for CHB0, 5-8 for GRI0
        zeros = 9 - int(m.sum())
        assert zeros >= hidden[MASK_FAMILY[name]]
    assert parse_mask("000010000").sum() == 1
    with pytest.raises(ConfigError, match="0/1"):
        parse_mask("1111")


def test_forward_uses_masked_weights_and_gradients_stay_zero():
    torch.manual_seed(0)
    conv = MaskedConv2d(3, 4, "CHB0-a", stride=2)
    mask = parse_mask("CHB0-a")
    assert (conv.weight[:, :, mask == 0] == 0).all()
    with torch.no_grad():  # poison the masked taps: they must not matter
        conv.weight[:, :, mask == 0] = 5.0
    x = torch.randn(2, 3, 8, 8)
    want = F.conv2d(x, conv.weight * mask, conv.bias, stride=2, padding=1)
    assert torch.allclose(conv(x), want)
    assert conv(x).shape == (2, 4, 4, 4)
    conv(x).square().sum().backward()
    assert conv.weight.grad is not None
    assert (conv.weight.grad[:, :, mask == 0] == 0).all()
    assert (conv.weight.grad[:, :, mask == 1] != 0).any()


@pytest.mark.parametrize(("mask", "tiling"), [("MH0-a", "MH0"), ("CHB0-a", "CHB0"), ("GRI0-b", "GRI0")])
def test_a_masked_stride2_conv_is_blind_to_the_pixels_its_tiling_replaces(mask, tiling):
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
    conv = MaskedConv2d(3, 2, mask, stride=2)
    to_t = lambda a: torch.from_numpy(a).permute(2, 0, 1)[None].float()  # noqa: E731
    with torch.no_grad():
        same = conv(to_t(img)), conv(to_t(apply_tiling(img, tiling)))
        ref = MaskedConv2d(3, 2, "REF", stride=2)
        differ = ref(to_t(img)), ref(to_t(apply_tiling(img, tiling)))
    assert torch.allclose(*same)
    assert not torch.allclose(*differ)


def test_mask_first_conv_replaces_only_the_first_layer():
    model = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 4, 3, padding=1))
    w0 = model[0].weight.detach().clone()
    mask_first_conv(model, "GRI0-a")
    assert isinstance(model[0], MaskedConv2d) and model[0].stride == (2, 2)
    assert not isinstance(model[2], MaskedConv2d)
    m = parse_mask("GRI0-a")
    assert torch.equal(model[0].weight[:, :, m == 1], w0[:, :, m == 1])
    with pytest.raises(ConfigError, match="3x3"):
        mask_first_conv(nn.Sequential(nn.Conv2d(3, 4, 5)), "REF")
    with pytest.raises(ConfigError, match="no Conv2d"):
        mask_first_conv(nn.Sequential(nn.Linear(2, 2)), "REF")
