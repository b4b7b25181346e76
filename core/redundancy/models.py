"""VGG-style backbones for the study: a registry of layer plans and a width/stride-aware builder.

``vgg16_bn`` follows the paper's VGG16-BN feature extractor (13 convs, batch norm) with a global-average
pool + linear head (the 4096-wide fully connected head of torchvision is left out: it would dominate the
parameter count without telling anything about the input redundancy). ``vgg_small`` and ``vgg_tiny`` are
CPU-sized versions for the default study and for the tests. A student is the same plan with its widths
multiplied by ``width`` and, optionally, a stride-2 masked first layer (see :mod:`core.redundancy.masks`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from core.errors import ConfigError
from core.redundancy.masks import MaskedConv2d, parse_mask

__all__ = ["BACKBONES", "BackboneConfig", "VGG", "build_backbone", "count_parameters"]

# Layer plans: an int is a 3x3 conv + BN + ReLU with that many channels, "M" a 2x2 max-pool.
BACKBONES: dict[str, tuple[int | str, ...]] = {
    "vgg_tiny": (8, "M", 16, "M", 32, "M"),
    "vgg_small": (16, "M", 32, "M", 64, 64, "M", 128, 128, "M"),
    "vgg11_bn": (64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"),
    "vgg16_bn": (
        64,
        64,
        "M",
        128,
        128,
        "M",
        256,
        256,
        256,
        "M",
        512,
        512,
        512,
        "M",
        512,
        512,
        512,
        "M",
    ),  # fmt: skip
}


@dataclass(frozen=True)
class BackboneConfig:
    """Everything needed to rebuild a model (saved next to its weights).

    Attributes:
        name: A key of :data:`BACKBONES`.
        num_classes: Number of output classes (>= 2).
        width: Channel multiplier (a student uses < 1).
        first_stride: Stride of the first convolution (2 for the masked-input variants).
        first_mask: Optional 3x3 mask name or 0/1 string for the first convolution.
    """

    name: str = "vgg_small"
    num_classes: int = 2
    width: float = 1.0
    first_stride: int = 1
    first_mask: str | None = None

    def __post_init__(self) -> None:
        if self.name not in BACKBONES:
            raise ConfigError(
                f"unknown backbone {self.name!r}; valid: {', '.join(BACKBONES)}", field="backbone"
            )
        if self.num_classes < 2:
            raise ConfigError(f"num_classes must be >= 2, got {self.num_classes}", field="num_classes")
        if not 0.0 < self.width <= 4.0:
            raise ConfigError(f"width must be in (0, 4], got {self.width}", field="width")
        if self.first_stride not in (1, 2):
            raise ConfigError(f"first_stride must be 1 or 2, got {self.first_stride}", field="first_stride")
        if self.first_mask is not None:
            parse_mask(self.first_mask)


class VGG(nn.Module):
    """Conv-BN-ReLU stacks and max-pools from a plan, then global average pool and a linear classifier."""

    def __init__(self, config: BackboneConfig):
        super().__init__()
        self.config = config
        layers: list[nn.Module] = []
        in_ch, first = 3, True
        for item in BACKBONES[config.name]:
            if item == "M":
                layers.append(nn.MaxPool2d(2))
                continue
            out_ch = max(4, int(round(int(item) * config.width)))
            conv: nn.Conv2d
            if first and config.first_mask is not None:
                conv = MaskedConv2d(in_ch, out_ch, config.first_mask, stride=config.first_stride, bias=False)
            else:
                stride = config.first_stride if first else 1
                conv = nn.Conv2d(in_ch, out_ch, 3, stride=stride, padding=1, bias=False)
            layers += [conv, nn.BatchNorm2d(out_ch), nn.ReLU(inplace=True)]
            in_ch, first = out_ch, False
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(in_ch, config.num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, 3, H, W) -> (B, K)
        return self.classifier(self.pool(self.features(x)).flatten(1))


def build_backbone(
    name: str = "vgg_small",
    num_classes: int = 2,
    *,
    width: float = 1.0,
    first_stride: int = 1,
    first_mask: str | None = None,
) -> VGG:
    """Build a randomly initialised backbone (no pretrained weights: the study trains from scratch)."""
    return VGG(BackboneConfig(name, num_classes, width, first_stride, first_mask))


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters; masked-out taps of a :class:`MaskedConv2d` are not counted."""
    total = 0
    for module in model.modules():
        for pname, p in module.named_parameters(recurse=False):
            if not p.requires_grad:
                continue
            if isinstance(module, MaskedConv2d) and pname == "weight":
                total += int(module.mask.sum().item()) * p.shape[0] * p.shape[1]
            else:
                total += p.numel()
    return total
