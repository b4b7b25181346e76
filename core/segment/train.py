"""The ``segmenter`` training task: ``python -m core.train segmenter --config cfg.yaml --set key=value``.

Trains on seeded synthetic scenes (core.segment.scenes) plus any labelme folders given in ``labelme_dirs``
(real photos labelled in the workbench, partial labels allowed), validates on held-out seeds, and exports the
best weights with their architecture to ``export`` (a .safetensors file) when set.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from core.errors import ConfigError
from core.segment.losses import SegLoss

__all__ = ["SegTrainOptions", "seg_step", "make_step", "run", "TASK", "iou_per_class"]


@dataclass(frozen=True)
class SegTrainOptions:
    """Task options besides the engine's TrainConfig keys."""

    n_train: int = 1200
    n_val: int = 96
    size: int = 256
    batch_size: int = 16
    encoder: str = "tu-mobilenetv3_small_100"
    loss: str = "tversky"  # tversky | dice
    alpha: float = 0.3
    beta: float = 0.7
    bce_weight: float = 0.5
    labelme_dirs: str = ""  # comma-separated labelme folders added to the synthetic training data
    export: str = ""  # .safetensors path for the best weights (+ arch); empty = do not export
    threads: int = 2
    px_per_mm_min: float = 5.0
    px_per_mm_max: float = 10.0


def iou_per_class(logits: torch.Tensor, target: torch.Tensor, label_mask: torch.Tensor) -> list[float]:
    """Pixel IoU per class over the labelled images of a batch (NaN when no image labels that class)."""
    pred = logits > 0
    t = target > 0.5
    out = []
    for c in range(logits.shape[1]):
        sel = label_mask[:, c] > 0
        if not bool(sel.any()):
            out.append(float("nan"))
            continue
        inter = (pred[sel, c] & t[sel, c]).sum().item()
        union = (pred[sel, c] | t[sel, c]).sum().item()
        out.append(inter / union if union else 1.0)
    return out


def make_step(loss_fn: SegLoss, classes: tuple[str, ...]):
    """The engine step function for a given loss."""
    from core.train import StepOutput

    def step(model: torch.nn.Module, batch: Any, train: bool) -> StepOutput:
        x, y, lm = batch  # (B, 3, H, W), (B, C, H, W), (B, C)
        logits = model(x)
        loss = loss_fn(logits, y, lm)
        ious = iou_per_class(logits.detach(), y, lm)
        metrics = {f"iou_{c}": v for c, v in zip(classes, ious, strict=True) if v == v}
        return StepOutput(loss=loss, metrics=metrics, n=int(x.shape[0]))

    return step


seg_step = make_step(SegLoss(), ("screw", "coin"))


def run(train: Any, options: SegTrainOptions | None) -> Any:
    """Train the segmenter (engine ``fit``) and export the best weights when ``options.export`` is set."""
    from torch.utils.data import ConcatDataset, DataLoader

    from core.segment.data import HELDOUT_SEED_BASE, TRAIN_SEED_BASE, LabelmeSegDataset, SyntheticSegDataset
    from core.segment.model import CLASSES, arch_dict, create_segmenter
    from core.segment.scenes import SceneConfig
    from core.train import fit, set_seed

    opt = options or SegTrainOptions()
    if opt.loss not in ("tversky", "dice"):
        raise ConfigError(f"unknown loss {opt.loss!r}; valid: tversky, dice", field="loss")
    if opt.size % 32:
        raise ConfigError(f"size must be a multiple of 32, got {opt.size}", field="size")
    torch.set_num_threads(max(1, opt.threads))
    set_seed(train.seed)
    scene_cfg = SceneConfig(size=(opt.size, opt.size), px_per_mm_range=(opt.px_per_mm_min, opt.px_per_mm_max))
    datasets: list[Any] = [SyntheticSegDataset(opt.n_train, TRAIN_SEED_BASE, scene_cfg)]
    for d in filter(None, (s.strip() for s in opt.labelme_dirs.split(","))):
        datasets.append(LabelmeSegDataset(d, CLASSES, opt.size))
    train_ds = ConcatDataset(datasets)  # type: ignore
    val_ds = SyntheticSegDataset(opt.n_val, HELDOUT_SEED_BASE + 500_000, scene_cfg, flip=False)
    alpha, beta = (0.5, 0.5) if opt.loss == "dice" else (opt.alpha, opt.beta)
    step = make_step(SegLoss(alpha, beta, opt.bce_weight), CLASSES)
    model = create_segmenter(opt.encoder)
    gen = torch.Generator().manual_seed(train.seed)
    result = fit(
        model,
        DataLoader(train_ds, batch_size=opt.batch_size, shuffle=True, generator=gen),
        DataLoader(val_ds, batch_size=opt.batch_size),
        step,
        train,
        config_extra=asdict(opt),
    )
    if opt.export:
        from core.checkpoints import save_checkpoint

        best = {k: float(v) for k, v in result.best.items()}
        save_checkpoint(
            Path(opt.export),
            result.model,
            arch=arch_dict(model.arch),
            meta={"task": "segmenter", "options": asdict(opt), "best": best, "epochs": train.epochs},
        )
    return result


def _task() -> Any:
    from core.train import Task

    return Task(
        name="segmenter",
        run=run,
        options=SegTrainOptions,
        description="U-Net (timm MobileNetV3) screw/coin segmenter, Tversky loss, partial labels",
    )


TASK = _task()
