"""Train one attribute classifier on crop arrays with the project's engine (``python -m core.train attributes``).

The model is a timm backbone (head, tip), StripNet (thread) or ColorNet / its plain baseline (finish); the class-
preserving augmentation of :mod:`core.attributes.augment` is applied per sample. The checkpoint written to
``out_dir/model.safetensors`` carries its architecture (``kind``, backbone, classes, attribute) so
:func:`load_attribute_model` rebuilds it from the file alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from numpy.typing import NDArray
from torch import nn
from torch.utils.data import DataLoader, Dataset

from core.catalog.taxonomy import ATTRIBUTE_NAMES, values_of
from core.errors import ConfigError
from core.train import FitResult, StepOutput, Task, TrainConfig, fit

__all__ = [
    "AttributeOptions",
    "CropDataset",
    "build_model",
    "classify_step",
    "train_attribute",
    "load_attribute_model",
    "MODEL_KINDS",
    "to_tensor",
    "TASK",
]


MODEL_KINDS: tuple[str, ...] = ("timm", "colornet", "plain", "strip")


@dataclass(frozen=True)
class AttributeOptions:
    """Options of the ``attributes`` task."""

    attribute: str = "head"
    train: str = "runs/attributes/crops-train.npz"
    val: str = "runs/attributes/crops-val.npz"
    model: str = "timm"  # timm | colornet | plain | strip
    backbone: str = "mobilenetv3_small_100"
    # timm: a local backbone checkpoint (ours or an ImageNet file) for transfer learning, new classifier head;
    # colornet / plain / strip: a checkpoint of the same model, continued whole (fine-tuning)
    init_checkpoint: str = ""
    # timm: continue init_checkpoint whole, its classifier head included (a checkpoint of this same model, e.g.
    # a shipped classifier fine-tuned on new crops) instead of a fresh head
    init_whole: bool = False
    freeze: int = 0  # stages frozen at the start ...
    unfreeze_epoch: int = 0  # ... and released from this epoch on (0 = never frozen)
    batch_size: int = 64
    augment: bool = True
    colornet_width: int = 24
    strip_width: int = 16  # StripNet's first conv width (model=strip)
    input: str = ""  # crop-file key to train on (default: the attribute's production crop), e.g. tip_tall

    def __post_init__(self) -> None:
        if self.attribute not in ATTRIBUTE_NAMES:
            raise ConfigError(f"unknown attribute {self.attribute!r}; valid: {', '.join(ATTRIBUTE_NAMES)}")
        if self.model not in MODEL_KINDS:
            raise ConfigError(f"unknown model {self.model!r}; valid: {', '.join(MODEL_KINDS)}", field="model")


def to_tensor(batch: NDArray[np.uint8]) -> torch.Tensor:
    """(N, H, W, 3) uint8 -> (N, 3, H, W) float32 in [0, 1]."""
    return torch.from_numpy(np.ascontiguousarray(batch)).permute(0, 3, 1, 2).float().div_(255.0)


class CropDataset(Dataset):
    """Crops of one attribute with their labels, augmented per sample when ``augment``."""

    def __init__(self, x: NDArray[np.uint8], y: NDArray[np.int64], attribute: str, augment: bool) -> None:
        self.x, self.y, self.attribute = x, y, attribute
        self.policy = None
        if augment:
            from core.attributes.augment import build_policy

            self.policy = build_policy(attribute)

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        img = self.x[i]
        if self.policy is not None:
            img = self.policy(image=img)["image"]
        return to_tensor(img[None])[0], torch.tensor(int(self.y[i]))


def build_model(arch: dict[str, Any]) -> nn.Module:
    """A classifier from its architecture dict (as stored in the checkpoint)."""
    from core.attributes.colornet import ColorNet, ColorNetConfig, PlainNet
    from core.attributes.models import ClassifierConfig, create_classifier
    from core.attributes.stripnet import StripNet, StripNetConfig

    kind = arch.get("kind", "timm")
    if kind not in MODEL_KINDS:
        raise ConfigError(f"unknown model kind {kind!r} in checkpoint; valid: {', '.join(MODEL_KINDS)}")
    n = int(arch["num_classes"])
    if kind == "strip":
        return StripNet(StripNetConfig(num_classes=n, width=int(arch.get("strip_width", 16))))
    if kind == "colornet":
        return ColorNet(ColorNetConfig(num_classes=n, width=int(arch.get("width", 24))))
    if kind == "plain":
        return PlainNet(ColorNetConfig(num_classes=n, width=int(arch.get("width", 24))))
    return create_classifier(ClassifierConfig(backbone=str(arch["backbone"]), num_classes=n))


def classify_step(model: nn.Module, batch: tuple[torch.Tensor, torch.Tensor], train: bool) -> StepOutput:
    x, y = batch
    logits = model(x)
    loss = F.cross_entropy(logits, y, label_smoothing=0.05 if train else 0.0)
    acc = (logits.argmax(1) == y).float().mean().item()
    return StepOutput(loss=loss, metrics={"acc": acc}, n=int(y.shape[0]))


def _load(path: str, attribute: str, key: str = "") -> tuple[NDArray[np.uint8], NDArray[np.int64]]:
    from core.attributes.data import load_crop_arrays
    from core.errors import DatasetError

    d = load_crop_arrays(path)
    key = key or attribute
    if key not in d:
        inputs = sorted(k for k in d if not k.startswith("y_") and k != "sku_row")
        raise DatasetError(
            f"{path} has no input {key!r} (has: {', '.join(inputs)}); rebuild it with "
            "`python -m core.attributes crops`",
            path=path,
            field="input",
        )
    return d[key], d[f"y_{attribute}"]


def _check_production_size(path: str, x: NDArray[np.uint8], attribute: str) -> None:
    """Refuse crops of an older crop definition: the engine would feed the model another input."""
    from core.attributes.data import INPUT_SIZE
    from core.errors import DatasetError

    want = INPUT_SIZE[attribute]
    if tuple(x.shape[1:3]) != want:
        raise DatasetError(
            f"{path}: {attribute} crops are {x.shape[1]} x {x.shape[2]}, the current {attribute} input is "
            f"{want[0]} x {want[1]}; the file predates a crop change, rebuild it with "
            "`python -m core.attributes crops` (or name another input with --set input=...)",
            path=path,
            field=attribute,
        )


def train_attribute(train: TrainConfig, options: AttributeOptions | None = None) -> FitResult:
    """Train the classifier of ``options.attribute`` and save ``model.safetensors`` in the run folder."""
    from core.attributes.models import load_backbone_weights
    from core.checkpoints import save_checkpoint

    opt = options or AttributeOptions()
    xt, yt = _load(opt.train, opt.attribute, opt.input)
    xv, yv = _load(opt.val, opt.attribute, opt.input)
    if not opt.input:
        _check_production_size(opt.train, xt, opt.attribute)
        _check_production_size(opt.val, xv, opt.attribute)
    arch: dict[str, Any] = {
        "kind": opt.model,
        "attribute": opt.attribute,
        "num_classes": len(values_of(opt.attribute)),
        "backbone": opt.backbone,
        "width": opt.colornet_width,
        "strip_width": opt.strip_width,
        "input_size": list(xt.shape[1:3]),
        "input": opt.input or opt.attribute,
    }
    torch.manual_seed(train.seed)
    model = build_model(arch)
    if opt.init_checkpoint and opt.model == "timm" and not opt.init_whole:
        load_backbone_weights(model, opt.init_checkpoint)
    elif opt.init_checkpoint:
        _load_same_model(model, arch, opt.init_checkpoint)
    on_epoch_end = None
    if opt.freeze and opt.model == "timm":
        from core.attributes.models import UnfreezeSchedule

        sched = UnfreezeSchedule({0: opt.freeze, max(1, opt.unfreeze_epoch): 0})
        sched.apply(model, 0)

        def on_epoch_end(epoch: int, metrics: dict[str, float]) -> None:
            sched.apply(model, epoch + 1)

    g = torch.Generator().manual_seed(train.seed)
    train_dl = DataLoader(
        CropDataset(xt, yt, opt.attribute, opt.augment), batch_size=opt.batch_size, shuffle=True, generator=g
    )
    val_dl = DataLoader(CropDataset(xv, yv, opt.attribute, False), batch_size=256)
    cfg = train if train.monitor != "val_loss" else _with(train, monitor="val_acc", mode="max")
    # Frozen stages need every parameter in the optimizer from the start (they are released later).
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    result = fit(model, train_dl, val_dl, classify_step, cfg, optimizer=optimizer, on_epoch_end=on_epoch_end)
    if result.run_dir is not None:
        meta = {"best": result.best, "train": opt.train, "val": opt.val, "epochs": len(result.history)}
        save_checkpoint(Path(result.run_dir) / "model.safetensors", result.model, arch=arch, meta=meta)
    return result


def _load_same_model(model: nn.Module, arch: dict[str, Any], path: str | Path) -> None:
    """Start a run from a checkpoint of the same model (all weights, head included): ColorNet / plain / StripNet
    always (these small nets have no separate backbone to transfer), a timm model with ``init_whole``.

    Fine-tuning (e.g. on crops the pipeline cut itself) continues the whole model; a checkpoint of another
    architecture is refused with what differs.
    """
    from core.checkpoints import load_checkpoint, load_into
    from core.errors import CheckpointError

    ck = load_checkpoint(path)
    keys = ["kind", "attribute", "num_classes", "input_size"]
    keys += {"colornet": ["width"], "plain": ["width"], "strip": ["strip_width"], "timm": ["backbone"]}.get(
        str(arch["kind"]), []
    )
    diff = [f"{k}: checkpoint {ck.arch.get(k)!r}, run {arch[k]!r}" for k in keys if ck.arch.get(k) != arch[k]]
    if diff:
        raise CheckpointError(
            "init_checkpoint is not the same model as this run (" + "; ".join(diff) + "); train from scratch "
            "or set the run's options to the checkpoint's",
            path=path,
        )
    load_into(model, ck.state_dict, strict=True)


def _with(cfg: TrainConfig, **kw: Any) -> TrainConfig:
    import dataclasses

    return dataclasses.replace(cfg, **kw)


def load_attribute_model(path: str | Path) -> tuple[nn.Module, dict[str, Any]]:
    """Rebuild a classifier from its checkpoint (architecture inside); returns (model in eval, arch)."""
    from core.checkpoints import load_checkpoint, load_into

    ck = load_checkpoint(path)
    model = build_model(ck.arch)
    load_into(model, ck.state_dict, strict=True)
    return model.eval(), dict(ck.arch)


TASK = Task(
    "attributes",
    train_attribute,
    AttributeOptions,
    "Attribute classifier (head/tip: timm backbone; thread: StripNet; finish: ColorNet) on studio crops.",
)
