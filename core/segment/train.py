"""The ``segmenter`` training task: ``python -m core.train segmenter --config cfg.yaml --set key=value``.

Trains on photos from the studio (core.synth: ``search`` photos with both classes labelled mixed with ``train``
photos that label only the object they show) plus any labelme folders given in ``labelme_dirs`` (real photos
labelled in the workbench, partial labels allowed), validates on a separate seed stream, and exports the best
weights with their architecture to ``export`` (a .safetensors file) when set. The learning rate warms up for
one epoch, then follows a cosine to zero.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from core.errors import ConfigError
from core.segment.data import TRAIN_SEED
from core.segment.losses import SegLoss

__all__ = [
    "SegTrainOptions",
    "seg_step",
    "make_step",
    "run",
    "TASK",
    "iou_per_class",
    "render_shape",
    "build_data",
    "export_run",
]


@dataclass(frozen=True)
class SegTrainOptions:
    """Task options besides the engine's TrainConfig keys."""

    n_train: int = 1200
    n_val: int = 64
    size: int = 384  # studio render width; height = 3/4 of it (rounded to 32)
    crop: int = 256  # random square training crop (0 = whole photo)
    search_share: float = 0.6  # share of search photos (both labelled); the rest are train-mode photos
    batch_size: int = 8
    encoder: str = "tu-mobilenetv3_small_100"
    loss: str = "tversky"  # tversky | dice
    alpha: float = 0.3
    beta: float = 0.7
    bce_weight: float = 0.5
    labelme_dirs: str = ""  # comma-separated labelme folders added to the studio training data
    export: str = ""  # .safetensors path for the best weights (+ arch); empty = do not export
    threads: int = 2
    data_seed: int = TRAIN_SEED
    decoder_channels: tuple[int, ...] = (32, 24, 16, 16, 8)
    zoom: tuple[float, float] = (1.0, 1.0)  # random zoom range of training crops (log-uniform)
    focus: float = 0.0  # chance a training crop is centred on a labelled object pixel
    init: str = ""  # segmenter .safetensors to start from (same encoder and decoder); empty = random init
    # hard cases added to the studio photos: the first hard_n search photos of dataset hard_seed whose screw has
    # hard_finish and whose background is hard_background (empty = any; core.synth.dataset.matching_indices)
    hard_n: int = 0
    hard_seed: int = 0
    hard_finish: str = ""
    hard_background: str = ""
    # the hard cases rendered this many times larger, then shrunk (StudioSegDataset's render_scale)
    hard_render_scale: float = 1.0


def render_shape(size: int) -> tuple[int, int]:
    """(height, width) of studio training photos for a render width ``size`` (both multiples of 32).

    Raises:
        ConfigError: ``size`` is not a multiple of 32 or below 64.
    """
    if size % 32 or size < 64:
        raise ConfigError(f"size must be a multiple of 32 and >= 64, got {size}", field="size")
    return max(32, int(round(size * 0.75 / 32)) * 32), size


def warmup_cosine(epochs: int) -> Any:
    """Per-epoch LR factor: linear warm-up over the first epoch, then cosine decay to 0 at the end."""
    import math

    def f(e: int) -> float:
        if e == 0:
            return 0.3
        t = min(1.0, e / max(1, epochs - 1))
        return 0.5 * (1.0 + math.cos(math.pi * t)) * 0.98 + 0.02

    return f


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


def build_data(opt: SegTrainOptions) -> tuple[Any, Any]:
    """(train dataset, validation dataset) for the options: studio photos (+ labelme folders)."""
    from torch.utils.data import ConcatDataset

    from core.segment.data import VAL_SEED, LabelmeSegDataset, StudioSegDataset
    from core.segment.model import CLASSES

    h, w = render_shape(opt.size)
    if opt.crop and (opt.crop % 32 or opt.crop > h):
        raise ConfigError(f"crop must be 0 or a multiple of 32 <= {h}, got {opt.crop}", field="crop")
    datasets: list[Any] = [
        StudioSegDataset(
            opt.n_train, opt.data_seed, w, h, opt.search_share, opt.crop, zoom=opt.zoom, focus=opt.focus
        )
    ]
    if opt.hard_n > 0:
        from core.catalog.catalog import load_arrays
        from core.synth.dataset import matching_indices

        found = matching_indices(
            load_arrays(),
            "search",
            opt.hard_seed,
            opt.hard_n,
            opt.hard_finish or None,
            opt.hard_background or None,
        )
        datasets.append(
            StudioSegDataset(
                0,
                width=w,
                height=h,
                crop=opt.crop,
                zoom=opt.zoom,
                focus=opt.focus,
                picks=[("search", opt.hard_seed, i) for i in found],
                render_scale=opt.hard_render_scale,
            )
        )
    for d in filter(None, (s.strip() for s in opt.labelme_dirs.split(","))):
        side = opt.crop or None
        datasets.append(LabelmeSegDataset(d, CLASSES, side if side else (h, w)))
    train_ds = ConcatDataset(datasets) if len(datasets) > 1 else datasets[0]
    # Validation: search photos only (both classes labelled) from a stream training never sees.
    val_ds = StudioSegDataset(opt.n_val, VAL_SEED, w, h, search_share=1.0, augment=False)
    return train_ds, val_ds


def run(train: Any, options: SegTrainOptions | None) -> Any:
    """Train the segmenter (engine ``fit``) and export the best weights when ``options.export`` is set."""
    from torch.utils.data import DataLoader

    from core.segment.model import CLASSES, arch_dict, create_segmenter
    from core.train import fit, set_seed

    opt = options or SegTrainOptions()
    if opt.loss not in ("tversky", "dice"):
        raise ConfigError(f"unknown loss {opt.loss!r}; valid: tversky, dice", field="loss")
    torch.set_num_threads(max(1, opt.threads))
    set_seed(train.seed)
    model = create_segmenter(opt.encoder, decoder_channels=opt.decoder_channels)
    if opt.init:
        from core.checkpoints import load_checkpoint, load_into

        # Strict: a file of another architecture is a CheckpointError naming it, not a silent partial load.
        load_into(model, load_checkpoint(opt.init).state_dict, strict=True)
    train_ds, val_ds = build_data(opt)
    alpha, beta = (0.5, 0.5) if opt.loss == "dice" else (opt.alpha, opt.beta)
    step = make_step(SegLoss(alpha, beta, opt.bce_weight), CLASSES)
    optimizer = torch.optim.AdamW(model.parameters(), lr=train.lr, weight_decay=train.weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, warmup_cosine(train.epochs))
    gen = torch.Generator().manual_seed(train.seed)
    result = fit(
        model,
        DataLoader(train_ds, batch_size=opt.batch_size, shuffle=True, generator=gen, drop_last=True),
        DataLoader(val_ds, batch_size=opt.batch_size),
        step,
        train,
        optimizer=optimizer,
        scheduler=scheduler,
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


def export_run(run_dir: str | Path, out: str | Path, which: str = "best") -> Path:
    """Export ``<run_dir>/checkpoints/<which>.pt`` (a segmenter run) as a self-describing .safetensors file.

    For a run stopped before its end (``run`` exports only when ``fit`` returns).

    Raises:
        CheckpointError: the checkpoint is missing or unreadable.
        ConfigError: the run folder has no readable config.json naming the encoder.
    """
    import json

    from core.checkpoints import save_checkpoint
    from core.errors import CheckpointError
    from core.segment.model import arch_dict, create_segmenter
    from core.train.run_files import load_run_checkpoint

    run_dir = Path(run_dir)
    ckpt = run_dir / "checkpoints" / f"{which}.pt"
    if not ckpt.is_file():
        raise CheckpointError("no such run checkpoint; is this a segmenter run folder?", path=ckpt)
    try:
        cfg = json.loads((run_dir / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ConfigError("cannot read the run's config.json", path=run_dir / "config.json") from e
    extra = cfg.get("extra", cfg)
    model = create_segmenter(
        str(extra.get("encoder", SegTrainOptions.encoder)),
        decoder_channels=tuple(extra.get("decoder_channels", SegTrainOptions.decoder_channels)),
    )
    data = load_run_checkpoint(ckpt)
    model.load_state_dict(data["model"])
    meta = {
        "task": "segmenter",
        "run_dir": str(run_dir),
        "checkpoint": which,
        "best": data.get("best_row", {}),
    }
    return save_checkpoint(Path(out), model, arch=arch_dict(model.arch), meta=meta)


def _task() -> Any:
    from core.train import Task

    return Task(
        name="segmenter",
        run=run,
        options=SegTrainOptions,
        description="U-Net (timm MobileNetV3) screw/coin segmenter, Tversky loss, partial labels",
    )


TASK = _task()
