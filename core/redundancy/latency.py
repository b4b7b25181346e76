"""Inference latency of a model: median wall time over repeated forward passes."""

from __future__ import annotations

import statistics
import time

import torch
from torch import nn

from core.device import resolve_device

__all__ = ["measure_latency"]


@torch.no_grad()
def measure_latency(
    model: nn.Module, size: int, *, batch: int = 1, device: str = "cpu", repeats: int = 20, warmup: int = 3
) -> float:
    """Median milliseconds of one forward pass of a (batch, 3, size, size) input in eval mode.

    The model is copied to ``device`` and left unchanged. On CUDA every pass is synchronised.
    """
    dev = resolve_device(device)
    was_training = model.training
    m = model.to(dev).eval()
    x = torch.randn(batch, 3, size, size, device=dev)
    times = []
    try:
        for i in range(warmup + repeats):
            if dev.type == "cuda":
                torch.cuda.synchronize(dev)
            t0 = time.perf_counter()
            m(x)
            if dev.type == "cuda":
                torch.cuda.synchronize(dev)
            if i >= warmup:
                times.append((time.perf_counter() - t0) * 1000.0)
    finally:
        model.train(was_training)
    return float(statistics.median(times))
