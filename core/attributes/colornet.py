"""ColorNet: the two-branch colour classifier of Rachmadi & Purnama (2015), sized for finish crops.

Two parallel convolutional branches see the same input (the screw's body pixels, background zeroed) and
learn different filters; their pooled features are concatenated before the fully connected classifier,
as in the paper's two-stream (top/bottom) design. :func:`plain_classifier` is a single-branch CNN of
about the same parameter count, the baseline ColorNet is compared against under lighting shifts.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from core.errors import ConfigError

__all__ = ["ColorNetConfig", "ColorNet", "PlainNet", "count_parameters"]


@dataclass(frozen=True)
class ColorNetConfig:
    """Architecture (stored inside the checkpoint)."""

    num_classes: int = 15
    width: int = 24  # channels of each branch's first conv
    dropout: float = 0.3

    def __post_init__(self) -> None:
        if self.num_classes < 2 or self.width < 4:
            raise ConfigError(f"need num_classes >= 2 and width >= 4, got {self}")


def _branch(width: int) -> nn.Sequential:
    w = width
    return nn.Sequential(
        nn.Conv2d(3, w, 5, stride=2, padding=2, bias=False),
        nn.BatchNorm2d(w),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(2),
        nn.Conv2d(w, 2 * w, 3, padding=1, bias=False),
        nn.BatchNorm2d(2 * w),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(2),
        nn.Conv2d(2 * w, 3 * w, 3, padding=1, bias=False),
        nn.BatchNorm2d(3 * w),
        nn.ReLU(inplace=True),
        nn.Conv2d(3 * w, 3 * w, 3, padding=1, bias=False),
        nn.BatchNorm2d(3 * w),
        nn.ReLU(inplace=True),
        nn.Conv2d(3 * w, 2 * w, 3, padding=1, bias=False),
        nn.BatchNorm2d(2 * w),
        nn.ReLU(inplace=True),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
    )


class ColorNet(nn.Module):
    """Two parallel conv branches, concatenated, then a 2-layer classifier.

    Input (B, 3, H, W) float in [0, 1] (normalised inside); output (B, num_classes) logits.
    """

    def __init__(self, config: ColorNetConfig = ColorNetConfig()) -> None:
        super().__init__()
        self.config = config
        w = config.width
        self.branch_a = _branch(w)
        self.branch_b = _branch(w)
        self.classifier = nn.Sequential(
            nn.Dropout(config.dropout),
            nn.Linear(4 * w, 4 * w),
            nn.ReLU(inplace=True),
            nn.Dropout(config.dropout),
            nn.Linear(4 * w, config.num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x * 2.0 - 1.0
        feats = torch.cat([self.branch_a(x), self.branch_b(x)], dim=1)  # (B, 4w)
        return self.classifier(feats)


class PlainNet(nn.Module):
    """The single-branch baseline: one branch of width ``round(w * sqrt(2))`` (about ColorNet's size)."""

    def __init__(self, config: ColorNetConfig = ColorNetConfig()) -> None:
        super().__init__()
        self.config = config
        w = int(round(config.width * 2**0.5))
        self.branch = _branch(w)
        self.classifier = nn.Sequential(
            nn.Dropout(config.dropout),
            nn.Linear(2 * w, 4 * config.width),
            nn.ReLU(inplace=True),
            nn.Dropout(config.dropout),
            nn.Linear(4 * config.width, config.num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.branch(x * 2.0 - 1.0))


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
