"""Structure/texture decomposition speed on one 1-megapixel photo (1000 x 1000), 2 CPU threads.

RTV (PyTorch, Jacobi-PCG, default parameters: lambda 0.01, sigma 3, 4 iterations, CG tol 1e-3) next to
OpenCV ximgproc l0Smooth and bilateralTextureFilter, timed in the same run. Target: RTV <= 2,500 ms/MP.
The photo is a 4 x 4 mosaic of Geirhos cue-conflict images resized to 1000 x 1000 (natural textures);
without ../shared/data it falls back to a procedural image.
"""

from __future__ import annotations

from bench.harness import register_timing

_SIDE = 1000  # 1000 x 1000 = 1 MP, so ms per call = ms per megapixel


def _photo():
    from pathlib import Path

    import numpy as np
    from PIL import Image

    root = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "cue-conflict" / "cue-conflict"
    files = sorted(root.glob("*/*.jpg"))[::80][:16]
    if len(files) == 16:
        tiles = [np.asarray(Image.open(f).convert("RGB").resize((250, 250))) for f in files]
        rows = [np.concatenate(tiles[i : i + 4], axis=1) for i in range(0, 16, 4)]
        return np.ascontiguousarray(np.concatenate(rows, axis=0))
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:_SIDE, :_SIDE]
    base = ((xx // 250 + yy // 250) % 2 * 120 + 60)[..., None]
    return np.clip(base + rng.integers(0, 40, (_SIDE, _SIDE, 3)), 0, 255).astype(np.uint8)


def _threads():
    import cv2
    import torch

    torch.set_num_threads(2)
    cv2.setNumThreads(2)


def _rtv():
    from core.texture import structure_of

    _threads()
    img = _photo()
    return lambda: structure_of(img, "rtv", device="cpu")


def _cv(method: str):
    def make():
        from core.texture import structure_of

        _threads()
        img = _photo()
        return lambda: structure_of(img, method)

    return make


register_timing(group="texture", name="RTV torch PCG 1 MP", setup=_rtv, items=1, unit="MP", repeats=5, baseline="OpenCV l0Smooth 1 MP")  # fmt: skip
register_timing(group="texture", name="OpenCV l0Smooth 1 MP", setup=_cv("l0"), items=1, unit="MP", repeats=5)
register_timing(group="texture", name="OpenCV bilateralTextureFilter 1 MP", setup=_cv("bilateral_texture"), items=1, unit="MP", repeats=5, baseline="OpenCV l0Smooth 1 MP")  # fmt: skip
