"""Masked first-layer convolution: the structural twin of the tiling operations.

The input layer's 3x3 kernels run at stride 2, so each kernel tap always meets pixels of the same parity
inside the 2x2 squares of :mod:`core.redundancy.tiling`: the corners of the 3x3 window see the (odd, odd)
pixels, the centre the (even, even) ones, top/bottom middle (odd, even), left/right middle (even, odd).
Zeroing taps therefore makes the network blind to a fixed quarter, half or three quarters of the pixels,
like MH0 / CHB0 / GRI0 do, but without touching the data. Masked weights are zero in the forward pass and
their gradients stay exactly zero (the weight is multiplied by the mask before the convolution).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from core.errors import ConfigError

__all__ = ["MASKS", "MASK_FAMILY", "MASK_FRACTION", "MaskedConv2d", "parse_mask", "mask_first_conv"]

#: The paper's 3x3 binary masks (row-major, 1 = kept tap).
MASKS: dict[str, str] = {
    "REF": "111111111",
    "MH0-a": "010111010",
    "MH0-b": "111101111",
    "MH0-c": "101111101",
    "MH0-d": "111010111",
    "CHB0-a": "101010101",
    "CHB0-b": "010101010",
    "GRI0-a": "101000101",
    "GRI0-b": "000010000",
    "GRI0-c": "010000010",
    "GRI0-d": "000101000",
}
#: Which tiling family each mask mimics.
MASK_FAMILY: dict[str, str] = {k: k.split("-")[0] if k != "REF" else "REF" for k in MASKS}
#: Fraction of input pixels each mask hides (0, 1/4, 1/2, 3/4).
MASK_FRACTION: dict[str, float] = {"REF": 0.0, "MH0": 0.25, "CHB0": 0.5, "GRI0": 0.75}


def parse_mask(pattern: str) -> torch.Tensor:
    """A 9-character 0/1 string (or a name in :data:`MASKS`) as a float (3, 3) tensor."""
    bits = MASKS.get(pattern, pattern)
    if len(bits) != 9 or set(bits) - {"0", "1"}:
        raise ConfigError(
            f"mask {pattern!r} is neither a name in {sorted(MASKS)} nor a 9-character 0/1 string",
            field="mask",
        )
    return torch.tensor([float(b) for b in bits]).reshape(3, 3)


class MaskedConv2d(nn.Conv2d):
    """A 3x3 convolution whose kernels are multiplied by a fixed binary mask in every forward pass."""

    mask: torch.Tensor

    def __init__(self, in_channels: int, out_channels: int, mask: str, *, stride: int = 2, bias: bool = True):
        super().__init__(in_channels, out_channels, kernel_size=3, stride=stride, padding=1, bias=bias)
        self.register_buffer("mask", parse_mask(mask)[None, None].clone())  # (1, 1, 3, 3)
        with torch.no_grad():
            self.weight.mul_(self.mask)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, H, W) -> (B, O, H/s, W/s)
        return F.conv2d(x, self.weight * self.mask, self.bias, self.stride, self.padding)


def _first_conv(model: nn.Module) -> tuple[nn.Module, str, nn.Conv2d]:
    for name, module in model.named_modules():
        if isinstance(module, nn.Conv2d):
            parent_name, _, child = name.rpartition(".")
            parent = model.get_submodule(parent_name) if parent_name else model
            return parent, child, module
    raise ConfigError("the model has no Conv2d layer to mask", field="model")


def mask_first_conv(model: nn.Module, mask: str, *, stride: int = 2) -> nn.Module:
    """Replace the model's first Conv2d (in place) by a :class:`MaskedConv2d` with ``mask`` at ``stride``.

    The first convolution must be 3x3; its existing weights are kept (then masked). Returns the model.
    """
    parent, child, conv = _first_conv(model)
    if conv.kernel_size != (3, 3) or conv.groups != 1:
        raise ConfigError(
            f"the first convolution must be a plain 3x3 conv to take a 3x3 mask, got kernel {conv.kernel_size}",
            field="model",
        )
    new = MaskedConv2d(conv.in_channels, conv.out_channels, mask, stride=stride, bias=conv.bias is not None)
    with torch.no_grad():
        new.weight.copy_(conv.weight * new.mask)
        if conv.bias is not None and new.bias is not None:
            new.bias.copy_(conv.bias)
    new.to(conv.weight.device)
    setattr(parent, child, new)
    return model
