"""Structure/texture decomposition speed on one 1-megapixel photo (1000 x 1000), 2 CPU threads.

RTV (PyTorch, multigrid-preconditioned CG, default parameters: lambda 0.01, sigma 3, sharpness 0.02,
4 iterations, CG tol 1e-3 on the last outer iteration and 1e-2 on the earlier ones) next to OpenCV
ximgproc l0Smooth and bilateralTextureFilter, timed in the same run; plus a Jacobi-PCG row (the previous
solver, every solve to 1e-3) for comparison. Targets: RTV <= 2,500 ms/MP on 2 CPU cores, <= 20 ms/MP on a
GPU (the CUDA row is registered only where an NVIDIA device node exists; it includes the host/device
copies of the photo and the structure). A second RTV row runs torch at 1 thread: on the shared 2-core
machine, 2 OpenMP threads per op under a load average of ~8 ran 4-10x slower than 1 thread.
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


def _rtv(device: str = "cpu", **params: object):
    def make():
        from core.texture import structure_of

        _threads()
        img = _photo()
        return lambda: structure_of(img, "rtv", device=device, **params)

    return make


def _rtv_one_thread():
    """RTV with torch at 1 thread: on a busy 2-core machine, 2 OpenMP threads fight the other jobs."""
    import torch

    run = _rtv()()

    def call():
        torch.set_num_threads(1)
        try:
            return run()
        finally:
            torch.set_num_threads(2)

    return call


def _has_nvidia() -> bool:
    """Cheap check at import time (no torch import): an NVIDIA device node is present."""
    import os

    return os.path.exists("/dev/nvidia0")


def _cv(method: str):
    def make():
        from core.texture import structure_of

        _threads()
        img = _photo()
        return lambda: structure_of(img, method)

    return make


register_timing(group="texture", name="RTV torch PCG 1 MP", setup=_rtv(), items=1, unit="MP", repeats=5, baseline="OpenCV l0Smooth 1 MP")  # fmt: skip
register_timing(group="texture", name="RTV torch PCG 1 MP, 1 torch thread", setup=_rtv_one_thread, items=1, unit="MP", repeats=5, baseline="RTV torch PCG 1 MP")  # fmt: skip
register_timing(group="texture", name="RTV torch Jacobi-PCG (old solver) 1 MP", setup=_rtv(preconditioner="jacobi", cg_tol_early=1e-3), items=1, unit="MP", repeats=5, baseline="RTV torch PCG 1 MP", heavy=True)  # fmt: skip
if _has_nvidia():
    register_timing(group="texture", name="RTV torch PCG cuda 1 MP", setup=_rtv("cuda"), items=1, unit="MP", repeats=5, baseline="RTV torch PCG 1 MP")  # fmt: skip
register_timing(group="texture", name="OpenCV l0Smooth 1 MP", setup=_cv("l0"), items=1, unit="MP", repeats=5)
register_timing(group="texture", name="OpenCV bilateralTextureFilter 1 MP", setup=_cv("bilateral_texture"), items=1, unit="MP", repeats=5, baseline="OpenCV l0Smooth 1 MP")  # fmt: skip
