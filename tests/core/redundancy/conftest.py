from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image


def write_folder(root: Path, counts: dict[str, int], *, mixed_sizes: bool = False, seed: int = 0) -> Path:
    """A tiny ImageFolder: class i has bright stripes along a class-specific direction."""
    rng = np.random.default_rng(seed)
    for ci, (name, n) in enumerate(counts.items()):
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            h, w = (12 + 3 * (i % 3), 16 + 2 * (i % 2)) if mixed_sizes else (16, 16)
            img = rng.integers(0, 60, (h, w, 3), dtype=np.uint8)
            if ci % 2 == 0:
                img[:: 2 + ci] += 150
            else:
                img[:, :: 1 + ci] += 150
            Image.fromarray(img).save(root / name / f"{i}.png")
    return root


@pytest.fixture
def tiny_folder(tmp_path: Path) -> Path:
    return write_folder(tmp_path / "data", {"a": 6, "b": 6}, mixed_sizes=True)


@pytest.fixture(autouse=True)
def _one_thread():
    # The CI box has 2 shared cores: oversubscribed OpenMP threads make tiny convs ~30x slower.
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
