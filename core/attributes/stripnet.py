"""StripNet: a small position-aware classifier for the thread strip (thread coverage).

Thread coverage is *where* along the shank the thread starts, a row position in the 256 x 32 strip of
:func:`core.attributes.data.thread_strip`. A backbone ending in global average pooling can only see how
much of the strip looks threaded; StripNet keeps the row axis: 2D convolutions at close to native
resolution see the teeth and the thread shading, the width is averaged away, 1D convolutions run along
the axis, and the classifier reads ``positions`` pooled segments in order (head side first).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from core.errors import ConfigError

__all__ = ["StripNetConfig", "StripNet"]


@dataclass(frozen=True)
class StripNetConfig:
    """Architecture (stored inside the checkpoint)."""

    num_classes: int = 4
    width: int = 16  # channels of the first conv; later stages use 2x, 3x, 4x
    positions: int = 16  # segments along the strip the classifier reads in order
    dropout: float = 0.2

    def __post_init__(self) -> None:
        if self.num_classes < 2 or self.width < 4 or self.positions < 1:
            raise ConfigError(f"need num_classes >= 2, width >= 4, positions >= 1, got {self}")


def _conv(cin: int, cout: int, stride: tuple[int, int]) -> list[nn.Module]:
    return [
        nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(True),
    ]


class StripNet(nn.Module):
    """Input (B, 3, H, W) float in [0, 1], H along the screw axis (head side at row 0); output logits.

    Any H divisible by 4 and W >= 8 works; the architecture was sized for 256 x 32.
    """

    def __init__(self, config: StripNetConfig = StripNetConfig()) -> None:
        super().__init__()
        self.config = config
        w = config.width
        self.features = nn.Sequential(
            *_conv(3, w, (1, 2)),  # (B, w, H, W/2): full resolution along the axis for the teeth
            *_conv(w, 2 * w, (2, 2)),  # (B, 2w, H/2, W/4)
            *_conv(2 * w, 3 * w, (2, 2)),  # (B, 3w, H/4, W/8)
            *_conv(3 * w, 4 * w, (1, 2)),  # (B, 4w, H/4, W/16)
        )
        c = 4 * w
        self.along = nn.Sequential(
            nn.Conv1d(c, c, 5, padding=2, bias=False),
            nn.BatchNorm1d(c),
            nn.ReLU(True),
            nn.Conv1d(c, c, 5, padding=2, bias=False),
            nn.BatchNorm1d(c),
            nn.ReLU(True),
            nn.AdaptiveAvgPool1d(config.positions),
        )
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Dropout(config.dropout), nn.Linear(c * config.positions, config.num_classes)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f = self.features(x * 2.0 - 1.0).mean(dim=3)  # (B, 4w, H/4): width averaged away
        return self.classifier(self.along(f))  # (B, num_classes)
