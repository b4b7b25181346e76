"""Held-out evaluation of the segmenter + pose + measurement on synthetic photos (seeds never trained on).

``python -m core.segment.evaluate --n 50 [--segmenter FILE] [--rotationnet FILE]`` prints JSON figures.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from core.segment.data import HELDOUT_SEED_BASE

__all__ = ["evaluate_heldout", "main"]


def evaluate_heldout(
    locator, n: int = 50, size: int = 512, seed_base: int = HELDOUT_SEED_BASE
) -> dict[str, float]:
    """Pixel IoU / precision / recall per class, angle / head-side / length / diameter errors, latency."""
    from core.errors import NoScrewFoundError
    from core.segment.scenes import SceneConfig, render_scene

    cfg = SceneConfig(size=(size, size))
    acc: dict[str, np.ndarray] = {c: np.zeros(3) for c in ("screw", "coin")}  # inter, pred, truth
    ang, head, lerr, derr, lat = [], [], [], [], []
    for k in range(n):
        sc = render_scene(seed_base + k, cfg)
        t0 = time.perf_counter()
        try:
            res = locator.locate(sc.image)
            screws = res.screws
            seg = res.segmentation
        except NoScrewFoundError:
            screws, seg = [], locator.segmenter.predict(sc.image)
        lat.append((time.perf_counter() - t0) * 1000)
        for c, gt in (("screw", sc.screw_mask), ("coin", sc.coin_mask)):
            p = seg.mask(c)
            acc[c] += [(p & gt).sum(), p.sum(), gt.sum()]
        for t in sc.screws:
            if t.cut_by_border:
                continue
            best = max(screws, key=lambda s: (s.mask & t.mask).sum(), default=None)
            if best is None or (best.mask & t.mask).sum() == 0:
                continue
            e = abs((best.angle_deg - t.angle_deg + 180) % 360 - 180)
            ang.append(min(e, 180 - e))
            head.append(e < 90)
            if best.length_mm is not None and sc.coin is not None:
                scale = sc.coin.diameter_mm / 23.25  # locator assumes euro_1; rescale to the true coin
                lerr.append(abs(best.length_mm * scale - t.length_mm) / t.length_mm)
                derr.append(abs(best.diameter_mm * scale - t.diameter_mm) / t.diameter_mm)
    out: dict[str, float] = {}
    for c, (ni, npred, ntrue) in acc.items():
        out[f"iou_{c}"] = float(ni / max(npred + ntrue - ni, 1))
        out[f"precision_{c}"] = float(ni / max(npred, 1))
        out[f"recall_{c}"] = float(ni / max(ntrue, 1))
    out["angle_err_median_deg"] = float(np.median(ang)) if ang else float("nan")
    out["head_side_correct"] = float(np.mean(head)) if head else float("nan")
    out["length_err_median"] = float(np.median(lerr)) if lerr else float("nan")
    out["diameter_err_median"] = float(np.median(derr)) if derr else float("nan")
    out["latency_ms_median"] = float(np.median(lat))
    return out


def main(argv: list[str] | None = None) -> int:
    import torch

    from core.locate.pipeline import Locator
    from core.paths import models_dir

    p = argparse.ArgumentParser(prog="python -m core.segment.evaluate")
    p.add_argument("--n", type=int, default=50)
    p.add_argument("--segmenter", default=str(models_dir() / "segmenter" / "segmenter.safetensors"))
    p.add_argument("--rotationnet", default=None)
    a = p.parse_args(argv)
    torch.set_num_threads(2)
    loc = Locator.from_files(a.segmenter, a.rotationnet)
    print(json.dumps(evaluate_heldout(loc, a.n), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
