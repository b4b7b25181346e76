"""The ``demo`` task: a tiny CNN that tells squares, discs and crosses apart on generated 16x16 images.

Seconds-long on a CPU, so it exercises the whole engine (run folder, checkpoints, resume, DDP) in tests
and gives the workbench a job to check its machinery with (also registered as ``toy_shapes``). The
validation set is drawn with a different seed from the training set, so ``val_acc`` is held-out accuracy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from numpy.typing import NDArray
from torch import nn
from torch.nn import functional as F

from core.errors import ConfigError
from core.train.config import TrainConfig
from core.train.engine import FitResult, StepOutput, fit
from core.train.tasks import Task

__all__ = ["DemoOptions", "SHAPES", "make_shapes", "TinyCNN", "classify_step", "run_demo", "DEMO_TASK"]

SHAPES = ("square", "disc", "cross")


@dataclass(frozen=True)
class DemoOptions:
    """Options of the demo task (YAML / ``--set`` keys besides the engine's).

    Attributes:
        n_train: Generated training images.
        n_val: Generated validation images (drawn with ``data_seed + 1``: disjoint from training).
        image_size: Side of the square images in pixels (>= 8).
        batch_size: Batch size of both loaders.
        width: Channels of the first conv layer.
        noise: Standard deviation of the Gaussian pixel noise.
        data_seed: Seed of the generated dataset (independent of the training seed).
    """

    n_train: int = 384
    n_val: int = 128
    image_size: int = 16
    batch_size: int = 32
    width: int = 8
    noise: float = 0.2
    data_seed: int = 0

    def __post_init__(self) -> None:
        for name in ("n_train", "n_val", "batch_size", "width"):
            if getattr(self, name) < 1:
                raise ConfigError(f"DemoOptions.{name} must be >= 1", field=name)
        if self.image_size < 8:
            raise ConfigError("DemoOptions.image_size must be >= 8 pixels", field="image_size")
        if self.noise < 0:
            raise ConfigError("DemoOptions.noise must be >= 0", field="noise")


def make_shapes(
    n: int, size: int = 16, noise: float = 0.2, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Draw ``n`` grey images of one shape each, at a random place and scale.

    Returns:
        ``(images, labels)``: float32 ``(n, 1, size, size)`` in about [0, 1] plus noise, and int64 ``(n,)``
        indices into :data:`SHAPES`.
    """
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    images: NDArray[np.float32] = np.zeros((n, 1, size, size), dtype=np.float32)
    labels = rng.integers(0, len(SHAPES), size=n)
    for i, lab in enumerate(labels):
        r = rng.uniform(size * 0.18, size * 0.32)
        cy, cx = rng.uniform(r + 1, size - r - 1, size=2)
        dy, dx = np.abs(yy - cy), np.abs(xx - cx)
        if lab == 0:
            mask = (dy <= r) & (dx <= r)
        elif lab == 1:
            mask = dy**2 + dx**2 <= r**2
        else:
            bar = max(1.0, r / 3)
            mask = ((dy <= bar) & (dx <= r)) | ((dx <= bar) & (dy <= r))
        images[i, 0] = mask.astype(np.float32)
    images += rng.normal(0, noise, size=images.shape).astype(np.float32)
    return torch.from_numpy(images), torch.from_numpy(labels.astype(np.int64))


class TinyCNN(nn.Module):
    """Two conv layers, global average pooling, a linear head: ``(B, 1, H, W) -> (B, classes)`` logits."""

    def __init__(self, width: int = 8, classes: int = len(SHAPES)):
        super().__init__()
        self.conv1 = nn.Conv2d(1, width, 3, padding=1)
        self.conv2 = nn.Conv2d(width, 2 * width, 3, padding=1)
        self.head = nn.Linear(2 * width, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)  # (B, w, H/2, W/2)
        x = F.relu(self.conv2(x))  # (B, 2w, H/2, W/2)
        return self.head(x.mean(dim=(2, 3)))  # (B, classes)


def classify_step(model: nn.Module, batch: tuple[torch.Tensor, torch.Tensor], train: bool) -> StepOutput:
    """Cross-entropy step reporting accuracy: the step function of any (image, label) classifier."""
    x, y = batch
    logits = model(x)
    loss = F.cross_entropy(logits, y)
    acc = (logits.argmax(dim=1) == y).float().mean().item()
    return StepOutput(loss=loss, metrics={"acc": acc}, n=int(y.shape[0]))


def run_demo(train: TrainConfig, options: DemoOptions | None = None) -> FitResult:
    """Train :class:`TinyCNN` on generated shapes with the engine and return its :class:`FitResult`."""
    from torch.utils.data import DataLoader, TensorDataset

    opt = options or DemoOptions()
    xt, yt = make_shapes(opt.n_train, opt.image_size, opt.noise, seed=opt.data_seed)
    xv, yv = make_shapes(opt.n_val, opt.image_size, opt.noise, seed=opt.data_seed + 1)
    torch.manual_seed(train.seed)  # the model's initial weights follow the training seed
    model = TinyCNN(width=opt.width)
    g = torch.Generator().manual_seed(train.seed)
    train_dl = DataLoader(TensorDataset(xt, yt), batch_size=opt.batch_size, shuffle=True, generator=g)
    val_dl = DataLoader(TensorDataset(xv, yv), batch_size=opt.batch_size)
    return fit(model, train_dl, val_dl, classify_step, train)


DEMO_TASK = Task(
    "demo", run_demo, DemoOptions, "Tiny CNN on generated squares/discs/crosses (seconds on CPU)."
)
TOY_SHAPES_TASK = Task(
    "toy_shapes", run_demo, DemoOptions, "Alias of demo, for the workbench's toy_shapes job."
)
