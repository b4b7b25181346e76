"""StripNet: shapes, config errors, and that it learns a row position (the thread-coverage cue)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from core.attributes.stripnet import StripNet, StripNetConfig
from core.errors import ConfigError


def test_forward_shape_for_the_production_strip():
    m = StripNet(StripNetConfig(num_classes=4, width=4)).eval()
    assert m(torch.rand(2, 3, 256, 32)).shape == (2, 4)


def test_bad_config():
    with pytest.raises(ConfigError):
        StripNetConfig(num_classes=1)
    with pytest.raises(ConfigError):
        StripNetConfig(width=2)


def _position_batch(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Strips whose only difference is where a striped band starts (class 0: row 8, 1: row 32, 2: 56)."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    x = np.full((n, 64, 16, 3), 0.5, np.float32)
    stripes = (np.arange(64) // 2 % 2)[:, None, None].astype(np.float32)
    for i, c in enumerate(y):
        start = (8, 32, 56)[c]
        x[i, start:] = stripes[start:]
    x += rng.normal(0, 0.05, x.shape).astype(np.float32)
    return torch.from_numpy(x).permute(0, 3, 1, 2), torch.from_numpy(y)


def test_learns_where_the_band_starts():
    torch.manual_seed(0)
    m = StripNet(StripNetConfig(num_classes=3, width=4, positions=8))
    opt = torch.optim.AdamW(m.parameters(), lr=1e-2)
    xt, yt = _position_batch(96, 0)
    for _ in range(40):
        loss = F.cross_entropy(m(xt), yt)
        opt.zero_grad()
        loss.backward()
        opt.step()
    xv, yv = _position_batch(60, 1)
    with torch.no_grad():
        acc = (m.eval()(xv).argmax(1) == yv).float().mean().item()
    assert acc > 0.9, acc  # chance is 1/3
