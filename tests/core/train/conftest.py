from __future__ import annotations

import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from core.train import StepOutput


def linear_step(model, batch, train):
    x, y = batch
    logits = model(x)
    loss = torch.nn.functional.cross_entropy(logits, y)
    return StepOutput(loss=loss, metrics={"acc": (logits.argmax(1) == y).float().mean().item()}, n=len(y))


def make_loaders(seed: int = 0, n: int = 48, batch: int = 8):
    g = torch.Generator().manual_seed(123)
    x = torch.randn(n + 16, 4, generator=g)
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).long()
    train = DataLoader(
        TensorDataset(x[:n], y[:n]),
        batch_size=batch,
        shuffle=True,
        generator=torch.Generator().manual_seed(seed),
    )
    val = DataLoader(TensorDataset(x[n:], y[n:]), batch_size=batch)
    return train, val


def tiny_model(seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    return torch.nn.Sequential(
        torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Dropout(0.2), torch.nn.Linear(8, 2)
    )


@pytest.fixture(autouse=True)
def _one_thread():
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)
