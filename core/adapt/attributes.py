"""Domain adaptation of a shipped attribute classifier on a labelme folder, with a before/after table.

``adapt_attribute`` loads a classifier checkpoint (``models/attributes/<attribute>.safetensors``), cuts the
attribute's crops from the folder's labelled screws (:mod:`core.adapt.data`), splits by photo
(:mod:`core.adapt.split`), evaluates the model on the held-out photos (before), fine-tunes it on the
training photos with the first ``freeze_stages`` stages frozen, evaluates again (after) and writes to
``out``: ``<attribute>.safetensors`` (same format as the shipped file: the engine and the Models page load
it), ``report.md`` + ``report.json`` (the before/after table), ``<attribute>.metrics.json`` (the same numbers for the
workbench's Models page) and ``split.json`` (the photos on each side).

The held-out photos are used for nothing but the two evaluations: the run has a fixed number of epochs and
keeps the last weights, so "after" is not selected on the data it is measured on.

Why a small loop rather than :func:`core.train.fit`: frozen stages must keep their BatchNorm statistics
(``set_frozen_bn_eval`` after every ``model.train()``), and a fine-tune of a few hundred crops does not need
the engine's run folder, resume and DDP machinery.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from numpy.typing import NDArray
from torch import nn

from core.errors import CheckpointError, ConfigError

__all__ = ["AdaptConfig", "AdaptResult", "adapt_attribute", "evaluate_crops", "report_markdown"]


@dataclass(frozen=True)
class AdaptConfig:
    """Settings of one adaptation run.

    Attributes:
        model: the classifier checkpoint to adapt (its attribute and architecture are inside).
        data: the labelme folder.
        out: the run folder (created).
        epochs: passes over the training crops.
        freeze_stages: backbone stages (stem first) kept frozen, BatchNorm statistics included.
        test_share: share of photos held out when the dataset has no split.json.
        seed: split and training seed.
        lr: AdamW learning rate (lower than from-scratch training: the weights are a good start).
        weight_decay: AdamW weight decay.
        batch_size: crops per step.
        augment: apply the attribute's class-preserving augmentation (core.attributes.augment).
        device: ``auto`` | ``cpu`` | ``cuda``.
    """

    model: str
    data: str
    out: str
    epochs: int = 5
    freeze_stages: int = 0
    test_share: float = 0.3
    seed: int = 0
    lr: float = 1e-3
    weight_decay: float = 1e-4
    batch_size: int = 32
    augment: bool = True
    device: str = "auto"

    def __post_init__(self) -> None:
        if self.epochs < 0:
            raise ConfigError(f"epochs must be >= 0, got {self.epochs}", field="epochs")
        if self.freeze_stages < 0:
            raise ConfigError(f"freeze stages must be >= 0, got {self.freeze_stages}", field="freeze_stages")
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise ConfigError(f"lr must be a positive number, got {self.lr}", field="lr")
        if self.batch_size < 1:
            raise ConfigError(f"batch size must be >= 1, got {self.batch_size}", field="batch_size")


@dataclass
class AdaptResult:
    """What an adaptation run measured and wrote.

    Attributes:
        attribute: the classifier's attribute.
        before / after: held-out metrics of the shipped and the adapted model (see :func:`evaluate_crops`).
        baseline_acc: held-out accuracy of always answering the training photos' most common value.
        n_train / n_held_out: crops on each side; photos_train / photos_held_out: photos on each side.
        trainable: parameters left trainable after freezing; total: all parameters.
        history: per epoch ``{"epoch", "train_loss", "train_acc", "seconds"}``.
        checkpoint / report_md / report_json / split_json: the files written.
    """

    attribute: str
    before: dict[str, float]
    after: dict[str, float]
    baseline_acc: float
    n_train: int
    n_held_out: int
    photos_train: int
    photos_held_out: int
    trainable: int
    total: int
    split_source: str
    config: dict[str, Any]
    history: list[dict[str, float]] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    seconds: float = 0.0
    checkpoint: Path | None = None
    report_md: Path | None = None
    report_json: Path | None = None
    split_json: Path | None = None

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        for k in ("checkpoint", "report_md", "report_json", "split_json"):
            d[k] = str(d[k]) if d[k] is not None else None
        return d


def evaluate_crops(
    model: nn.Module, x: NDArray[np.uint8], y: NDArray[np.int64], batch: int = 256
) -> dict[str, float]:
    """Accuracy, top-3 accuracy and mean negative log-likelihood of ``model`` on crops ``x`` (N, H, W, 3)."""
    from core.attributes.train import to_tensor

    if len(y) == 0:
        return {"accuracy": float("nan"), "top3_accuracy": float("nan"), "nll": float("nan"), "n": 0.0}
    model.eval()
    device = next(model.parameters()).device
    logits = []
    with torch.inference_mode():
        for i in range(0, len(y), batch):
            logits.append(model(to_tensor(x[i : i + batch]).to(device)).float().cpu())
    lg = torch.cat(logits)  # (N, C)
    t = torch.from_numpy(y)
    top3 = lg.topk(min(3, lg.shape[1]), dim=1).indices
    return {
        "accuracy": float((lg.argmax(1) == t).float().mean()),
        "top3_accuracy": float((top3 == t[:, None]).any(1).float().mean()),
        "nll": float(F.cross_entropy(lg, t)),
        "n": float(len(y)),
    }


def _fine_tune(
    model: nn.Module, x: NDArray[np.uint8], y: NDArray[np.int64], attribute: str, cfg: AdaptConfig
) -> list[dict[str, float]]:
    from torch.utils.data import DataLoader

    from core.attributes.models import set_frozen_bn_eval
    from core.attributes.train import CropDataset

    device = next(model.parameters()).device
    g = torch.Generator().manual_seed(cfg.seed)
    data = CropDataset(x, y, attribute, cfg.augment)
    if data.policy is not None:
        data.policy.set_random_seed(cfg.seed)  # albumentations has its own RNG: seed it for a repeatable run
    # A last batch of one crop breaks BatchNorm in train mode; drop it when there is more than one batch.
    loader = DataLoader(
        data,
        batch_size=cfg.batch_size,
        shuffle=True,
        generator=g,
        drop_last=len(y) > cfg.batch_size,
    )
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    history = []
    for epoch in range(1, cfg.epochs + 1):
        t0 = time.perf_counter()
        model.train()
        set_frozen_bn_eval(model)
        loss_sum = correct = seen = 0.0
        for xb, yb in loader:
            xb, yb = xb.to(device), yb.to(device)
            logits = model(xb)  # (B, C)
            loss = F.cross_entropy(logits, yb, label_smoothing=0.05)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            loss_sum += loss.item() * len(yb)
            correct += float((logits.argmax(1) == yb).sum())
            seen += len(yb)
        history.append(
            {
                "epoch": float(epoch),
                "train_loss": loss_sum / max(seen, 1),
                "train_acc": correct / max(seen, 1),
                "seconds": time.perf_counter() - t0,
            }
        )
    model.eval()
    return history


def _write_json(path: Path, data: Any) -> Path:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=2, default=str)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def adapt_attribute(cfg: AdaptConfig) -> AdaptResult:
    """Run one adaptation (see the module docstring) and write its files into ``cfg.out``.

    Raises:
        CheckpointError: the model file is missing or is not an attribute classifier.
        DatasetError / AnnotationError: no labelled screws, unknown values, too few photos (see
            :mod:`core.adapt.data`, :mod:`core.adapt.split`).
        ConfigError: ``freeze_stages`` exceeds the backbone's stages.
    """
    from core.adapt.data import load_labelled_crops
    from core.adapt.split import split_photos
    from core.attributes.models import freeze_stages
    from core.attributes.train import load_attribute_model
    from core.catalog.taxonomy import ATTRIBUTE_NAMES
    from core.checkpoints import save_checkpoint
    from core.device import resolve_device
    from core.train import set_seed

    t_start = time.perf_counter()
    if not Path(cfg.model).is_file():
        raise CheckpointError(
            "model file not found; give e.g. models/attributes/head.safetensors", path=cfg.model
        )
    model, arch = load_attribute_model(cfg.model)
    attribute = str(arch.get("attribute", ""))
    if attribute not in ATTRIBUTE_NAMES:
        raise CheckpointError(
            f"checkpoint names no attribute (got {attribute!r}); adapt a file of models/attributes/",
            path=cfg.model,
        )
    crops = load_labelled_crops(cfg.data, attribute, str(arch.get("input") or attribute))
    want = tuple(int(v) for v in arch.get("input_size", crops.x.shape[1:3]))
    if want != tuple(crops.x.shape[1:3]):
        raise CheckpointError(
            f"this {attribute} model was trained on {want[0]}x{want[1]} crops but the pipeline now cuts "
            f"{crops.x.shape[1]}x{crops.x.shape[2]}; adapt a model trained with the current crops",
            path=cfg.model,
        )
    out = Path(cfg.out)
    if out.resolve() == Path(cfg.data).resolve():
        raise ConfigError(
            "the run folder must not be the data folder (its split.json would be replaced)", field="out"
        )
    if (out / f"{attribute}.safetensors").resolve() == Path(cfg.model).resolve():
        raise ConfigError("the run would overwrite the model it adapts; choose another --out", field="out")
    split = split_photos(cfg.data, crops.photos, cfg.test_share, cfg.seed)
    x_tr, y_tr = crops.subset(set(split.train))
    x_ho, y_ho = crops.subset(set(split.held_out))
    device = resolve_device(cfg.device)
    model.to(device)
    set_seed(cfg.seed)
    before = evaluate_crops(model, x_ho, y_ho)
    trainable = freeze_stages(model, cfg.freeze_stages)
    history = _fine_tune(model, x_tr, y_tr, attribute, cfg)
    after = evaluate_crops(model, x_ho, y_ho)
    for p in model.parameters():
        p.requires_grad_(True)
    majority = int(np.bincount(y_tr).argmax())
    out.mkdir(parents=True, exist_ok=True)
    result = AdaptResult(
        attribute=attribute,
        before=before,
        after=after,
        baseline_acc=float((y_ho == majority).mean()),
        n_train=len(y_tr),
        n_held_out=len(y_ho),
        photos_train=len(split.train),
        photos_held_out=len(split.held_out),
        trainable=trainable,
        total=sum(p.numel() for p in model.parameters()),
        split_source=split.source,
        config=asdict(cfg),
        history=history,
        skipped=crops.skipped,
    )
    meta = {
        "adapted_from": str(cfg.model),
        "data": str(cfg.data),
        "held_out_before": before,
        "held_out_after": after,
        "epochs": cfg.epochs,
        "freeze_stages": cfg.freeze_stages,
    }
    result.checkpoint = save_checkpoint(out / f"{attribute}.safetensors", model.cpu(), arch=arch, meta=meta)
    result.split_json = _write_json(out / "split.json", split.to_json())
    result.seconds = time.perf_counter() - t_start
    result.report_md = out / "report.md"
    result.report_json = out / "report.json"
    tmp = result.report_md.with_suffix(".md.tmp")
    tmp.write_text(report_markdown(result), encoding="utf-8")
    tmp.replace(result.report_md)
    _write_json(result.report_json, result.to_json())
    # Shown by the workbench's Models page (core.inventory) once the checkpoint is copied into models/.
    flat = {
        f"held-out {k} {when}": round(v[k], 4)
        for when, v in (("before", before), ("after", after))
        for k in v
    }
    _write_json(out / f"{attribute}.metrics.json", {**flat, "held-out photos": len(split.held_out)})
    return result


def report_markdown(r: AdaptResult) -> str:
    """The before/after table of a run as Markdown."""
    c = r.config
    rows = [
        ("accuracy", "accuracy", "{:.3f}"),
        ("top-3 accuracy", "top3_accuracy", "{:.3f}"),
        ("mean NLL (nats, lower is better)", "nll", "{:.3f}"),
    ]
    lines = [
        f"# Domain adaptation: {r.attribute} classifier",
        "",
        f"Model `{c['model']}` fine-tuned on `{c['data']}`: {c['epochs']} epochs, lr {c['lr']}, batch "
        f"{c['batch_size']}, first {c['freeze_stages']} stages frozen ({r.trainable:,} of {r.total:,} "
        f"parameters trainable), augmentation {'on' if c['augment'] else 'off'}, seed {c['seed']}.",
        f"Split: {r.split_source}; train {r.photos_train} photos ({r.n_train} screws), held out "
        f"{r.photos_held_out} photos ({r.n_held_out} screws). The held-out photos were used only for the "
        "two evaluations below (fixed epochs, last weights).",
        "",
        f"| held-out metric (n = {r.n_held_out}) | before (shipped) | after (adapted) | change |",
        "|---|---|---|---|",
    ]
    for name, key, fmt in rows:
        b, a = r.before[key], r.after[key]
        lines.append(f"| {name} | {fmt.format(b)} | {fmt.format(a)} | {a - b:+.3f} |")
    lines += [
        "",
        f"Majority-value baseline (most common training value) on the held-out screws: {r.baseline_acc:.3f}.",
        f"Wall time {r.seconds:.1f} s. Checkpoint: `{r.checkpoint}`.",
    ]
    if r.skipped:
        lines.append(f"Skipped {len(r.skipped)} screws that could not be cut: {'; '.join(r.skipped[:5])}.")
    return "\n".join(lines) + "\n"
