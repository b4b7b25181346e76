"""U-Net segmenter factory: smp.Unet on a light timm encoder, one sigmoid channel per class."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from core.errors import CheckpointError, ConfigError

__all__ = ["CLASSES", "ENCODERS", "SegmenterArch", "SegmenterNet", "create_segmenter", "load_segmenter"]

#: Output channels, in order.
CLASSES: tuple[str, ...] = ("screw", "coin")
#: Encoders that build offline with random init (checked against smp 0.6.0), lightest first.
ENCODERS: tuple[str, ...] = (
    "tu-mobilenetv3_small_100",
    "tu-mobilenetv3_small_050",
    "tu-mobilenetv3_large_100",
)
_MEAN = (0.485, 0.456, 0.406)
_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class SegmenterArch:
    """Architecture arguments; stored inside every checkpoint so one file rebuilds the model."""

    encoder: str = "tu-mobilenetv3_small_100"
    classes: tuple[str, ...] = CLASSES
    decoder_channels: tuple[int, ...] = (32, 24, 16, 16, 8)


class SegmenterNet(nn.Module):
    """smp.Unet with the input normalisation inside.

    ``forward`` takes (B, 3, H, W) float RGB in [0, 255] with H, W multiples of 32 and returns (B, C, H, W)
    logits, one channel per class of ``arch.classes``.
    """

    def __init__(self, arch: SegmenterArch, encoder_checkpoint: str | None = None):
        super().__init__()
        import segmentation_models_pytorch as smp

        self.arch = arch
        self.unet = smp.Unet(
            encoder_name=arch.encoder,
            encoder_weights=None,
            classes=len(arch.classes),
            decoder_channels=tuple(arch.decoder_channels),
        )
        self.register_buffer("mean", torch.tensor(_MEAN).view(1, 3, 1, 1) * 255.0, persistent=False)
        self.register_buffer("std", torch.tensor(_STD).view(1, 3, 1, 1) * 255.0, persistent=False)
        if encoder_checkpoint:
            self._load_encoder(encoder_checkpoint)

    def _load_encoder(self, path: str) -> None:
        from core.checkpoints import load_checkpoint, load_into

        sd = load_checkpoint(path).state_dict
        enc = self.unet.encoder
        # timm-style files name keys without smp's "model." prefix; accept both.
        if not any(k.startswith("model.") for k in sd):
            sd = {f"model.{k}": v for k, v in sd.items()}
        missing, _ = load_into(enc, sd, strict=False)
        if len(missing) == len(enc.state_dict()):
            raise CheckpointError(
                "no encoder weight matched this encoder; is it the same architecture?", path=path
            )

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean, std = self.get_buffer("mean"), self.get_buffer("std")
        return self.unet((x - mean) / std)  # (B, C, H, W)


def create_segmenter(
    encoder: str = "tu-mobilenetv3_small_100",
    classes: tuple[str, ...] | list[str] = CLASSES,
    decoder_channels: tuple[int, ...] | list[int] = (32, 24, 16, 16, 8),
    encoder_checkpoint: str | None = None,
) -> SegmenterNet:
    """Build a randomly initialised segmenter (or with a local pretrained encoder checkpoint).

    Raises:
        ConfigError: unknown encoder (the message lists the valid ones) or bad decoder channels.
    """
    if encoder not in ENCODERS:
        raise ConfigError(f"unknown encoder {encoder!r}; valid: {', '.join(ENCODERS)}", field="encoder")
    if len(decoder_channels) != 5:
        raise ConfigError("decoder_channels needs 5 values (one per U-Net stage)", field="decoder_channels")
    arch = SegmenterArch(encoder, tuple(classes), tuple(int(c) for c in decoder_channels))
    return SegmenterNet(arch, encoder_checkpoint)


def arch_dict(arch: SegmenterArch) -> dict[str, Any]:
    """JSON-able arch for :func:`core.checkpoints.save_checkpoint`."""
    d = asdict(arch)
    return {
        "encoder": d["encoder"],
        "classes": list(d["classes"]),
        "decoder_channels": list(d["decoder_channels"]),
    }


def load_segmenter(path: str | Path) -> SegmenterNet:
    """Rebuild a segmenter from one checkpoint file (eval mode, CPU)."""
    from core.checkpoints import build_from_checkpoint

    model = build_from_checkpoint(path, create_segmenter)
    assert isinstance(model, SegmenterNet)
    return model.eval()
