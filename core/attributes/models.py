"""Attribute classifiers: light separable-convolution backbones from timm with transfer learning.

``create_classifier`` builds a timm backbone with random weights (nothing is downloaded), optionally loads a
local checkpoint (ours or a user's ImageNet file) with the classifier head swapped for this task's number
of classes, and :func:`freeze_stages` / :class:`UnfreezeSchedule` freeze the first N stages and release
them on a schedule.

Backbone choice (measured by ``python -m bench --only attributes``): MobileNetV3-Small-100 (1.5 M params,
~4 ms per 96 px crop on 2 cores) is the default; LCNet-050 is lighter still; Xception41 is 15x the
parameters and ~6x the latency for crops this small. See models/README.md for the measured table.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from core.errors import CheckpointError, ConfigError

__all__ = [
    "BACKBONES",
    "ClassifierConfig",
    "create_classifier",
    "model_stages",
    "freeze_stages",
    "UnfreezeSchedule",
    "load_backbone_weights",
]

_log = logging.getLogger(__name__)

# Light separable-convolution backbones offered by name (all timm; random init unless a file is given).
BACKBONES: tuple[str, ...] = (
    "mobilenetv3_small_100",
    "mobilenetv3_small_050",
    "lcnet_050",
    "mobilenetv3_large_100",
    "efficientnet_b0",
    "mobilenetv4_conv_small",
    "xception41",
)


@dataclass(frozen=True)
class ClassifierConfig:
    """Architecture of an attribute classifier (stored inside its checkpoint)."""

    backbone: str = "mobilenetv3_small_100"
    num_classes: int = 32
    in_chans: int = 3
    drop_rate: float = 0.1
    extra: dict[str, object] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.backbone not in BACKBONES:
            raise ConfigError(
                f"unknown backbone {self.backbone!r}; valid: {', '.join(BACKBONES)}", field="backbone"
            )
        if self.num_classes < 2:
            raise ConfigError(f"num_classes must be >= 2, got {self.num_classes}", field="num_classes")


def create_classifier(config: ClassifierConfig, checkpoint: str | Path | None = None) -> nn.Module:
    """Build the classifier; with ``checkpoint`` its backbone weights are loaded and the head swapped."""
    import timm

    model = timm.create_model(
        config.backbone,
        pretrained=False,
        num_classes=config.num_classes,
        in_chans=config.in_chans,
        drop_rate=config.drop_rate,
    )
    if checkpoint is not None:
        load_backbone_weights(model, checkpoint)
    return model


def _classifier_prefixes(model: nn.Module) -> tuple[str, ...]:
    get = getattr(model, "get_classifier", None)
    head = get() if callable(get) else None
    names = [n for n, m in model.named_modules() if head is not None and m is head]
    return tuple(f"{n}." for n in names) or ("classifier.", "fc.", "head.")


def load_backbone_weights(model: nn.Module, checkpoint: str | Path) -> tuple[list[str], list[str]]:
    """Load a backbone checkpoint into ``model``, skipping the old classifier head.

    Keys of the head, and any tensor whose shape differs (a different class count), are left at their
    fresh initialisation; every other backbone key must be present (a file of another architecture is
    refused with the list of what is missing).

    Returns:
        (skipped keys, missing keys that stayed at init).
    """
    from core.checkpoints import load_checkpoint

    state = load_checkpoint(checkpoint).state_dict
    own = model.state_dict()
    heads = _classifier_prefixes(model)
    usable: dict[str, torch.Tensor] = {}
    skipped: list[str] = []
    for k, v in state.items():
        if k in own and own[k].shape == v.shape and not k.startswith(heads):
            usable[k] = v
        else:
            skipped.append(k)
    missing = [k for k in own if k not in usable and not k.startswith(heads)]
    if len(missing) > 0.5 * len(own):
        raise CheckpointError(
            f"checkpoint matches only {len(usable)} of {len(own)} tensors of this backbone; "
            "is it a checkpoint of another architecture? Choose the backbone it was trained with",
            path=checkpoint,
        )
    model.load_state_dict(usable, strict=False)
    if missing:
        _log.warning("%d backbone tensors not in %s stay at init: %s", len(missing), checkpoint, missing[:5])
    return skipped, missing


def model_stages(model: nn.Module) -> list[list[nn.Module]]:
    """The backbone as an ordered list of stages (stem first, classifier head excluded).

    Works for timm's MobileNet/EfficientNet/LCNet family (``conv_stem`` + ``blocks[i]``) and falls back to
    the model's top-level children for others.
    """
    get = getattr(model, "get_classifier", None)
    head = get() if callable(get) else None
    blocks = getattr(model, "blocks", None)
    if isinstance(blocks, nn.Sequential):
        stem = [m for n, m in model.named_children() if n in ("conv_stem", "bn1")]
        return [stem, *[[b] for b in blocks]]
    return [[m] for m in model.children() if m is not head]


def freeze_stages(model: nn.Module, n: int) -> int:
    """Freeze the first ``n`` stages (requires_grad False, BatchNorm in eval); unfreeze the rest.

    Returns the number of parameters left trainable.
    """
    stages = model_stages(model)
    if not 0 <= n <= len(stages):
        raise ConfigError(f"can freeze 0..{len(stages)} stages of this backbone, got {n}", field="freeze")
    for p in model.parameters():
        p.requires_grad_(True)
    for stage in stages[:n]:
        for module in stage:
            for p in module.parameters():
                p.requires_grad_(False)
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def set_frozen_bn_eval(model: nn.Module) -> None:
    """Keep BatchNorm statistics of frozen modules fixed (call after ``model.train()``)."""
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm) and not any(
            p.requires_grad for p in m.parameters()
        ):
            m.eval()


@dataclass(frozen=True)
class UnfreezeSchedule:
    """How many stages stay frozen from a given epoch on, e.g. ``{0: 4, 3: 2, 6: 0}``."""

    frozen_from_epoch: Mapping[int, int] = field(default_factory=lambda: {0: 0})

    def frozen_at(self, epoch: int) -> int:
        keys = sorted(k for k in self.frozen_from_epoch if k <= epoch)
        return self.frozen_from_epoch[keys[-1]] if keys else 0

    def apply(self, model: nn.Module, epoch: int) -> int:
        """Freeze as scheduled for ``epoch``; returns the trainable parameter count."""
        return freeze_stages(model, self.frozen_at(epoch))
