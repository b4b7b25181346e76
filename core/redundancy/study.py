"""The redundancy study: (1) tiling, (2) masked first layer, (3) estimate, (4) student + distillation.

Every model is trained from scratch with the engine (:func:`core.train.fit`), focal loss, Adam (AdamW with
zero weight decay), a fixed number of epochs and no model selection on the test fold (the last weights are
evaluated, so no test data leaks into training). Runs are k-fold x repeats; inside a fold every variant
starts from the same seed, so variants are compared on the same split and initialisation.

Decision rule (written down because the paper states it only in words):

* ``tol`` of a reference = max(sample std of its test error over folds x repeats, 1 / mean test-fold size)
  -- the reference's own fold spread, never finer than one test image.
* Tiling: a fraction f in {1/4, 1/2, 3/4} *passes* when at least two of its three fills (mean colour,
  black, white) have a mean error <= mean error of DN + tol(DN).
* Masks: f is *confirmed* when the best mask of its family (MH0 / CHB0 / GRI0) has a mean error
  <= mean error of REF (the unmasked stride-2 first layer) + tol(REF).
* The redundancy estimate is the largest f such that every fraction up to f passes and is confirmed
  (0 when 1/4 already fails).
* Guard: when DN itself is not better than always answering the most frequent class (mean error >=
  chance error - tol(DN)), nothing can be learned from degradations; the estimate is 0 and flagged
  ``informative=False`` (train longer or on more data).

The student keeps the teacher's layer plan with every width multiplied by ``1 - estimate`` (parameters
scale about with its square) and, when the stride-2 reference is as good as DN (within tol(DN)), a
stride-2 first layer: the mask stage showed the network does not need every input pixel at full density.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray

from core.errors import ConfigError
from core.redundancy.data import ImageSet, stratified_folds
from core.redundancy.losses import distillation_loss, focal_loss
from core.redundancy.masks import MASK_FAMILY, MASKS
from core.redundancy.models import BACKBONES
from core.redundancy.tiling import TILING_METHODS, apply_tiling_batch

__all__ = ["StudyConfig", "Estimate", "estimate_redundancy", "evaluate_classifier", "to_tensor", "Progress"]

Progress = Callable[[int, int, str], None]
FRACTIONS = (0.25, 0.5, 0.75)


@dataclass(frozen=True)
class StudyConfig:
    """Settings of a study (the defaults are the CPU-sized configuration: ~10 min for ~500 images).

    At 64 px and 6 epochs of batch 32 (60 steps) the stride-1 teacher was badly undertrained on studio
    crops (test error 0.67 vs 0.18 after 18 epochs), hence 48 px, batch 16 and 12 epochs by default.

    Attributes:
        backbone: Key of :data:`core.redundancy.models.BACKBONES` (``vgg16_bn`` as in the paper, on GPU).
        size: Input side in pixels (the paper: 128).
        folds: Cross-validation folds (paper: 3).
        repeats: Repeats of the whole k-fold with reshuffled folds (paper: 5).
        epochs: Training epochs per model (paper: 20 x 100 iterations).
        batch_size: Training batch size.
        lr: Adam learning rate (paper: 1e-3).
        gamma: Focal-loss gamma (paper: 0.5).
        temperature: Distillation temperature.
        alpha: Weight of the soft-target term in distillation.
        device: ``auto`` | ``cpu`` | ``cuda``.
        seed: Base seed.
        max_per_class: Use at most this many images per class (None: all).
        max_batches_per_epoch: Cut epochs short (smoke runs).
        tiling_methods: Tiling variants of stage 1 (must include DN).
        masks: Mask variants of stage 2 (must include REF).
        latency_repeats: Timed forward passes per latency figure.
    """

    backbone: str = "vgg_small"
    size: int = 48
    folds: int = 3
    repeats: int = 1
    epochs: int = 12
    batch_size: int = 16
    lr: float = 1e-3
    gamma: float = 0.5
    temperature: float = 4.0
    alpha: float = 0.7
    device: str = "auto"
    seed: int = 0
    max_per_class: int | None = None
    max_batches_per_epoch: int | None = None
    tiling_methods: tuple[str, ...] = TILING_METHODS
    masks: tuple[str, ...] = tuple(MASKS)
    latency_repeats: int = 20

    def __post_init__(self) -> None:
        if self.backbone not in BACKBONES:
            raise ConfigError(
                f"unknown backbone {self.backbone!r}; valid: {', '.join(BACKBONES)}", field="backbone"
            )
        for name, value in (("folds", self.folds), ("repeats", self.repeats), ("epochs", self.epochs)):
            if value < (2 if name == "folds" else 1):
                raise ConfigError(f"{name} is too small: {value}", field=name)
        if "DN" not in self.tiling_methods:
            raise ConfigError("tiling_methods must include the reference 'DN'", field="tiling_methods")
        if "REF" not in self.masks:
            raise ConfigError("masks must include the reference 'REF'", field="masks")
        unknown = [m for m in self.tiling_methods if m not in TILING_METHODS] + [
            m for m in self.masks if m not in MASKS
        ]
        if unknown:
            raise ConfigError(f"unknown tiling methods or masks: {unknown}", field="tiling_methods")


def to_tensor(images: NDArray[np.uint8]) -> torch.Tensor:
    """(N, H, W, 3) uint8 -> (N, 3, H, W) float32, scaled to about [-2, 2] with fixed constants.

    Fixed constants (not data statistics) so that degraded and clean inputs go through the same mapping.
    """
    x = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float()
    return (x / 255.0 - 0.5) / 0.25


def classification_step(gamma: float) -> Callable[[torch.nn.Module, Any, bool], Any]:
    """Engine step: focal loss on ``(x, y)`` batches, reports the batch error."""
    from core.train import StepOutput

    def step(model: torch.nn.Module, batch: Any, train: bool) -> Any:
        x, y = batch
        logits = model(x)
        loss = focal_loss(logits, y, gamma)
        err = (logits.argmax(1) != y).float().mean().item()
        return StepOutput(loss=loss, metrics={"error": err}, n=int(y.shape[0]))

    return step


def distillation_step(
    teacher: torch.nn.Module, *, temperature: float, alpha: float, gamma: float
) -> Callable[[torch.nn.Module, Any, bool], Any]:
    """Engine step: Hinton KD from a frozen ``teacher`` (moved to the batch's device on first use)."""
    from core.train import StepOutput

    teacher.eval()
    for p in teacher.parameters():
        p.requires_grad_(False)

    def step(model: torch.nn.Module, batch: Any, train: bool) -> Any:
        x, y = batch
        if next(teacher.parameters()).device != x.device:
            teacher.to(x.device)
        with torch.no_grad():
            t_logits = teacher(x).float()
        logits = model(x)
        loss = distillation_loss(logits, t_logits, y, temperature=temperature, alpha=alpha, gamma=gamma)
        err = (logits.argmax(1) != y).float().mean().item()
        return StepOutput(loss=loss, metrics={"error": err}, n=int(y.shape[0]))

    return step


@torch.no_grad()
def evaluate_classifier(
    model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, *, gamma: float = 0.5, batch_size: int = 256
) -> dict[str, float]:
    """Test metrics: focal loss, error, macro precision and macro recall (over the classes in ``y``)."""
    model.eval()
    dev = next(model.parameters()).device
    logits = torch.cat(
        [model(x[i : i + batch_size].to(dev)).float().cpu() for i in range(0, len(x), batch_size)]
    )
    pred = logits.argmax(1)
    precisions, recalls = [], []
    for c in torch.unique(y).tolist():
        tp = int(((pred == c) & (y == c)).sum())
        predicted = int((pred == c).sum())
        precisions.append(tp / predicted if predicted else 0.0)
        recalls.append(tp / int((y == c).sum()))
    return {
        "loss": float(focal_loss(logits, y, gamma)),
        "error": float((pred != y).float().mean()),
        "precision": float(np.mean(precisions)),
        "recall": float(np.mean(recalls)),
    }


def train_model(
    model: torch.nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    step: Callable[[torch.nn.Module, Any, bool], Any],
    config: StudyConfig,
    seed: int,
) -> torch.nn.Module:
    """Train on (x, y) with the engine for ``config.epochs``; returns the last weights (no selection)."""
    from torch.utils.data import DataLoader, TensorDataset

    from core.train import TrainConfig, fit

    gen = torch.Generator().manual_seed(seed)
    loader = DataLoader(TensorDataset(x, y), batch_size=config.batch_size, shuffle=True, generator=gen)
    tc = TrainConfig(
        epochs=config.epochs,
        lr=config.lr,
        seed=seed,
        device=config.device,
        progress=False,
        max_batches_per_epoch=config.max_batches_per_epoch,
        monitor="train_loss",
    )
    return fit(model, loader, None, step, tc).model


@dataclass(frozen=True)
class Estimate:
    """The redundancy estimate and the evidence behind it.

    Attributes:
        redundancy: 0, 1/4, 1/2 or 3/4.
        tol_dn: Tolerance around the DN error.
        tol_ref: Tolerance around the REF (unmasked stride-2) error.
        rows: One row per fraction: tiling means per fill, passes, best mask, confirmed.
        stride2_ok: Whether the stride-2 reference is within tol_dn of DN.
        informative: False when DN is at chance level, so the estimate says nothing.
    """

    redundancy: float
    tol_dn: float
    tol_ref: float
    rows: list[dict[str, Any]] = field(default_factory=list)
    stride2_ok: bool = False
    informative: bool = True


def _errors(results: list[dict[str, Any]], stage: str, variant: str) -> list[float]:
    return [r["error"] for r in results if r["stage"] == stage and r["variant"] == variant]


def _tol(errors: list[float], fold_size: float) -> float:
    spread = statistics.stdev(errors) if len(errors) > 1 else 0.0
    return max(spread, 1.0 / max(fold_size, 1.0))


def estimate_redundancy(
    results: list[dict[str, Any]], fold_size: float, *, chance_error: float | None = None
) -> Estimate:
    """Apply the module's decision rule to stage-1 and stage-2 run results.

    Args:
        results: Rows with keys ``stage`` (``tiling`` | ``mask``), ``variant`` and ``error``.
        fold_size: Mean number of test images per fold (floor of the tolerance).
        chance_error: Error of the majority-class guess; enables the at-chance guard.
    """
    dn = _errors(results, "tiling", "DN")
    ref = _errors(results, "mask", "REF")
    if not dn or not ref:
        raise ConfigError("the estimate needs DN tiling runs and REF mask runs", field="results")
    mean_dn, mean_ref = float(np.mean(dn)), float(np.mean(ref))
    tol_dn, tol_ref = _tol(dn, fold_size), _tol(ref, fold_size)
    informative = chance_error is None or mean_dn < chance_error - tol_dn
    rows, redundancy, still = [], 0.0, informative
    for f, base, family in zip(FRACTIONS, ("MH", "CHB", "GRI"), ("MH0", "CHB0", "GRI0"), strict=True):
        fills = {
            m: float(np.mean(e))
            for m in (base, base + "0", base + "1")
            if (e := _errors(results, "tiling", m))
        }
        n_ok = sum(v <= mean_dn + tol_dn for v in fills.values())
        passes = bool(fills) and n_ok >= min(2, len(fills))
        masks = {
            m: float(np.mean(e))
            for m in MASKS
            if MASK_FAMILY[m] == family and (e := _errors(results, "mask", m))
        }
        best = min(masks, key=lambda m: masks[m]) if masks else None
        confirmed = best is not None and masks[best] <= mean_ref + tol_ref
        still = still and passes and confirmed
        if still:
            redundancy = f
        rows.append(
            {
                "fraction": f,
                "tiling": fills,
                "tiling_passes": passes,
                "best_mask": best,
                "best_mask_error": masks.get(best) if best else None,
                "confirmed": confirmed,
                "accepted": still,
            }
        )
    return Estimate(
        redundancy=redundancy,
        tol_dn=tol_dn,
        tol_ref=tol_ref,
        rows=rows,
        stride2_ok=mean_ref <= mean_dn + tol_dn,
        informative=informative,
    )


def fold_splits(
    data: ImageSet, config: StudyConfig
) -> list[tuple[int, int, NDArray[np.int64], NDArray[np.int64]]]:
    """(repeat, fold, train indices, test indices) for every run of the study."""
    out = []
    for r in range(config.repeats):
        parts = stratified_folds(data.labels, config.folds, seed=config.seed + r)
        for k, test in enumerate(parts):
            train = np.setdiff1d(np.arange(len(data.labels)), test)
            out.append((r, k, train, test))
    return out


def degrade(data: ImageSet, method: str) -> torch.Tensor:
    """The whole image set degraded by ``method``, as a normalised tensor."""
    return to_tensor(apply_tiling_batch(data.images, method))


def _seed(config: StudyConfig, repeat: int, fold: int) -> int:
    return config.seed + 1000 * repeat + fold


def _timed(fn: Callable[[], dict[str, float]]) -> dict[str, float]:
    t0 = time.perf_counter()
    out = fn()
    out["seconds"] = time.perf_counter() - t0
    return out
