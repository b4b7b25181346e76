"""The one training loop every trainer in the product uses, on Lightning Fabric.

A trainer supplies a model, data loaders and a *step function* ``step(model, batch, train)`` that returns a
:class:`StepOutput`; the engine does the rest: device and mixed precision (``16-mixed`` on CUDA), DDP when
started with several devices or under ``torchrun``, metric averaging, a progress bar, the run folder
(see :mod:`core.train.run_files`), a checkpoint every epoch, resume after a kill, early stopping and seeds.
"""

from __future__ import annotations

import copy
import dataclasses
import random
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from core.device import autocast, resolve_device
from core.errors import ConfigError, InputError
from core.train._loop import Loop, average, reseed_epoch, to_device
from core.train.config import TrainConfig

__all__ = ["StepOutput", "StepFn", "FitResult", "fit", "evaluate", "set_seed"]


@dataclass
class StepOutput:
    """What a step function returns for one batch.

    Attributes:
        loss: Scalar tensor; in training it must carry the graph (the engine calls backward on it).
        metrics: Per-batch values; the engine averages them over the epoch weighted by ``n``.
        n: Number of samples in the batch.
    """

    loss: torch.Tensor
    metrics: dict[str, float]
    n: int


StepFn = Callable[[torch.nn.Module, Any, bool], StepOutput]


@dataclass
class FitResult:
    """The outcome of :func:`fit`.

    Attributes:
        model: The trained module, holding the best weights (by ``monitor``) when a validation loader was
            given, else the last ones.
        history: One row per epoch: ``epoch, train_loss, train_<m>, val_loss, val_<m>, lr, seconds``.
        best: The history row of the best epoch (the last row without validation).
        run_dir: The run folder, or None when nothing was written.
        stopped_early: True when early stopping ended the run.
        cancelled: True when a ``cancel`` file in the run folder stopped the run.
    """

    model: torch.nn.Module
    history: list[dict[str, float]]
    best: dict[str, float]
    run_dir: Path | None
    stopped_early: bool
    cancelled: bool = False


def set_seed(seed: int) -> None:
    """Seed Python's, NumPy's and torch's (CPU and CUDA) global RNGs."""
    if not isinstance(seed, int) or seed < 0:
        raise ConfigError(f"seed must be an integer >= 0, got {seed!r}", field="seed")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _check_loader(loader: Any, name: str) -> None:
    if not hasattr(loader, "__iter__") or not hasattr(loader, "__len__"):
        raise InputError(
            f"{name} must be a torch DataLoader (or a sized iterable of batches), got {type(loader).__name__}",
            field=name,
        )
    if len(loader) == 0:
        raise InputError(
            f"{name} is empty: no batch to train on; check the dataset and batch size", field=name
        )


def _make_fabric(config: TrainConfig) -> Any:
    import os

    from lightning_fabric import Fabric

    device = resolve_device(config.device)
    precision: Any = config.precision
    if precision == "auto":
        precision = "16-mixed" if device.type == "cuda" else "32-true"
    devices: Any = config.devices
    strategy = config.strategy
    external = "LOCAL_RANK" in os.environ and "WORLD_SIZE" in os.environ  # torchrun / fabric run
    if external:
        devices = int(os.environ.get("LOCAL_WORLD_SIZE", os.environ["WORLD_SIZE"]))
    if (devices > 1 or external) and strategy == "auto":
        strategy = "ddp"
    if devices > 1 and not external and "pytest" in sys.modules:
        # Fabric's launcher re-runs sys.argv once per extra rank: under pytest that would re-run the suite.
        raise ConfigError(
            "devices > 1 must be started from a script or `python -m core.train` (the launcher re-runs the "
            "command per rank), not from inside pytest",
            field="devices",
        )
    if device.type == "cuda" and device.index is not None and devices == 1:
        devices = [device.index]
    try:
        fabric = Fabric(accelerator=device.type, devices=devices, strategy=strategy, precision=precision)
    except (ValueError, RuntimeError, TypeError) as e:
        raise ConfigError(f"cannot set up training on {config.device!r}: {e}", field="device") from e
    fabric.launch()
    return fabric


def evaluate(
    model: torch.nn.Module, loader: Any, step: StepFn, device: str | torch.device = "auto"
) -> dict[str, float]:
    """Run ``step`` over ``loader`` without gradients and average what it reports.

    Args:
        model: The module (moved to ``device`` and put in eval mode).
        loader: A DataLoader or sized iterable of batches (tensors in tuples/lists/dicts are moved).
        step: The step function, called with ``train=False``.
        device: ``auto`` | ``cpu`` | ``cuda`` or a torch.device.

    Returns:
        ``{"loss": ..., <metric>: ...}`` averaged over samples (weighted by each batch's ``n``).
    """
    _check_loader(loader, "loader")
    dev = device if isinstance(device, torch.device) else resolve_device(device)
    model.to(dev)
    model.eval()
    sums: dict[str, float] = {}
    counts: dict[str, float] = {}
    with torch.no_grad():
        for batch in loader:
            with autocast(dev):
                out = step(model, to_device(batch, dev), False)
            Loop.accumulate(out, sums, counts)
    return average(sums, counts)


def fit(
    model: torch.nn.Module,
    train_loader: Any,
    val_loader: Any | None,
    step: StepFn,
    config: TrainConfig,
    *,
    optimizer: torch.optim.Optimizer | None = None,
    scheduler: Any | None = None,
    on_epoch_end: Callable[[int, dict[str, float]], None] | None = None,
    config_extra: Mapping[str, Any] | None = None,
) -> FitResult:
    """Train ``model`` for ``config.epochs`` epochs and return the best (or last) weights.

    Args:
        model: The module to train (modified in place).
        train_loader: DataLoader of training batches (shuffle it yourself; use num_workers=0 for exact resume).
        val_loader: DataLoader of validation batches, or None (then "best" is the last epoch).
        step: ``step(model, batch, train) -> StepOutput``; the batch is already on the device.
        config: The engine settings.
        optimizer: Defaults to ``AdamW(lr, weight_decay)`` over ``model.parameters()``.
        scheduler: Stepped once per epoch (``ReduceLROnPlateau`` gets the monitored value).
        on_epoch_end: Called with ``(epoch, row)`` after the epoch's checkpoint is written (epochs are 1-based).
        config_extra: More JSON-friendly settings to record in ``config.json`` (e.g. task options).

    Returns:
        A :class:`FitResult`.

    Raises:
        ConfigError: Early stopping without validation data, or ``monitor`` not among the history keys.
        InputError: An empty loader or a step function returning something other than a StepOutput.
        JobError: The loss became NaN or infinite.
        CheckpointError: ``resume`` found an unreadable ``last.pt``.
    """
    if not isinstance(config, TrainConfig):
        raise ConfigError(f"config must be a TrainConfig, got {type(config).__name__}", field="config")
    _check_loader(train_loader, "train_loader")
    if val_loader is not None:
        _check_loader(val_loader, "val_loader")
    elif config.patience is not None and not config.monitor.startswith("train_"):
        raise ConfigError(
            f"early stopping on {config.monitor!r} needs a val_loader; pass one, set patience=None, "
            "or monitor a train_ metric",
            field="patience",
        )
    set_seed(config.seed)
    fabric = _make_fabric(config)
    if optimizer is None:
        optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    fmodel, foptim = fabric.setup(model, optimizer)
    train_dl = _setup_loader(fabric, train_loader)
    val_dl = _setup_loader(fabric, val_loader) if val_loader is not None else None
    run_dir = Path(config.out_dir) if config.out_dir else None
    extra = {"world_size": fabric.world_size, **(dict(config_extra) if config_extra else {})}
    loop = Loop(fabric, model, fmodel, foptim, scheduler, step, config, run_dir, extra)
    loop.start(train_dl, val_dl)
    try:
        for epoch in range(loop.epoch + 1, config.epochs + 1):
            reseed_epoch(config.seed, epoch, train_dl)
            t0 = time.perf_counter()
            train_stats = loop.run_epoch(train_dl, epoch, train=True)
            if loop.cancelled:
                break
            val_stats = loop.run_epoch(val_dl, epoch, train=False) if val_dl is not None else {}
            row: dict[str, float] = {"epoch": epoch}
            row.update({f"train_{k}": v for k, v in train_stats.items()})
            row.update({f"val_{k}": v for k, v in val_stats.items()})
            row["lr"] = float(foptim.param_groups[0]["lr"])
            row["seconds"] = round(time.perf_counter() - t0, 4)
            stop = loop.end_epoch(row, has_val=val_dl is not None)
            if on_epoch_end is not None:
                on_epoch_end(epoch, dict(row))
            if stop or loop.poll_cancel(epoch_end=True):
                break
    except BaseException as e:
        loop.fail(e)
        raise
    loop.finish()
    if val_dl is not None and loop.best_state is not None:
        model.load_state_dict(loop.best_state)
    best = (
        dict(loop.best_row) if loop.best_row is not None else (dict(loop.history[-1]) if loop.history else {})
    )
    return FitResult(
        model=model,
        history=[dict(r) for r in loop.history],
        best=best,
        run_dir=run_dir,
        stopped_early=loop.stopped_early,
        cancelled=loop.cancelled,
    )


def _setup_loader(fabric: Any, loader: Any) -> Any:
    from torch.utils.data import DataLoader

    if isinstance(loader, DataLoader):
        return fabric.setup_dataloaders(loader)
    return _MovingIterable(loader, fabric.device)


class _MovingIterable:
    """A sized iterable of batches that are moved to the device on the way out."""

    def __init__(self, batches: Any, device: torch.device):
        self.batches = batches
        self.device = device

    def __len__(self) -> int:
        return len(self.batches)

    def __iter__(self) -> Any:
        for b in self.batches:
            yield to_device(b, self.device)


def config_dict(config: TrainConfig) -> dict[str, Any]:
    """The config as a JSON-friendly dict."""
    return copy.deepcopy(dataclasses.asdict(config))
