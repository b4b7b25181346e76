"""Train RotationNet on long synthetic screws: ``python -m core.pose.train_rotationnet --out FILE``.

Labels come from the geometry on long screws (min-area rectangle + half areas), never from the renderer's
angle: each long screw is put head-up with its computed angle, cut to a random shorter length (head kept),
and turned by a random known angle.
"""

from __future__ import annotations

import argparse
import math
import time

import cv2
import numpy as np
import torch
from numpy.typing import NDArray

from core.pose.canonical import canonicalize
from core.pose.geometry import axis_from_mask, head_side
from core.pose.rotationnet import arch_dict, create_rotationnet, decode_bins, rotnet_input

__all__ = ["long_screw_samples", "make_sample", "main"]


def long_screw_samples(
    n_scenes: int, seed_base: int, size: int = 256
) -> list[tuple[NDArray[np.uint8], NDArray[np.bool_]]]:
    """Head-up RGBA cut-outs of the long screws of ``n_scenes`` synthetic scenes, via COMPUTED angles."""
    from core.segment.scenes import SceneConfig, render_scene

    cfg = SceneConfig(size=(size, size), p_short=0.0, p_cut=0.0, px_per_mm_range=(5.0, 10.0))
    out = []
    for k in range(n_scenes):
        sc = render_scene(seed_base + k, cfg)
        for s in sc.screws:
            ax = axis_from_mask(s.mask)
            if ax.aspect < 2.5:
                continue
            ang, _ = head_side(s.mask, ax)
            can = canonicalize(sc.image, s.mask, ax.center, ang, ax.length_px)
            out.append((can.image, can.mask))
    return out


def make_sample(
    rgba: NDArray[np.uint8], mask: NDArray[np.bool_], rng: np.random.Generator, size: int
) -> tuple[NDArray[np.float32], float]:
    """Cut a head-up screw to a random length (head kept), turn it by a random angle -> (input, angle)."""
    h, w = mask.shape
    keep = int(round(h * rng.uniform(0.25, 1.0)))
    keep = max(keep, min(h, int(w * 1.0)))
    rgb, m = rgba[:keep, :, :3], mask[:keep]
    theta = float(rng.uniform(0, 360))
    side = int(math.ceil(math.hypot(*m.shape))) + 4
    canvas = np.zeros((side, side, 3), np.uint8)
    cm = np.zeros((side, side), np.float32)
    y0, x0 = (side - m.shape[0]) // 2, (side - m.shape[1]) // 2
    canvas[y0 : y0 + m.shape[0], x0 : x0 + m.shape[1]] = rgb
    cm[y0 : y0 + m.shape[0], x0 : x0 + m.shape[1]] = m
    # Head-up -> head at theta clockwise: OpenCV's positive angle is counter-clockwise, so use -theta.
    rot = cv2.getRotationMatrix2D((side / 2, side / 2), -theta, 1.0)
    canvas = cv2.warpAffine(canvas, rot, (side, side), flags=cv2.INTER_LINEAR)  # type: ignore
    cm = cv2.warpAffine(cm, rot, (side, side), flags=cv2.INTER_LINEAR) > 0.5  # type: ignore
    return rotnet_input(canvas, cm, size), theta  # type: ignore


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m core.pose.train_rotationnet")
    p.add_argument("--out", required=True, help="checkpoint file (.safetensors)")
    p.add_argument("--scenes", type=int, default=300)
    p.add_argument("--steps", type=int, default=1500)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    rng = np.random.default_rng(a.seed)
    t0 = time.time()
    pool = long_screw_samples(a.scenes, seed_base=2_000_000)
    model = create_rotationnet()
    bins = model.arch.bins
    opt = torch.optim.AdamW(model.parameters(), lr=2e-3)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=a.steps)
    centers = torch.arange(bins) * (360.0 / bins)
    errs: list[float] = []
    for step in range(a.steps):
        xs, ts = zip(
            *(make_sample(*pool[int(rng.integers(len(pool)))], rng, 64) for _ in range(a.batch)), strict=True
        )
        x = torch.from_numpy(np.stack(xs))
        t = torch.tensor(ts)
        d = (centers[None] - t[:, None] + 180) % 360 - 180  # (B, bins) signed distance in degrees
        soft = torch.softmax(-(d**2) / (2 * (360.0 / bins) ** 2), dim=1)  # Gaussian label smoothing
        model.train()
        logits = model(x)
        loss = -(soft * torch.log_softmax(logits, 1)).sum(1).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        err = ((decode_bins(logits.detach()) - t + 180) % 360 - 180).abs()
        errs.append(float(err.median()))
        if step % 100 == 0 or step == a.steps - 1:
            print(
                f"step {step} loss {loss.item():.3f} train median err {np.mean(errs[-50:]):.1f} deg "
                f"{time.time() - t0:.0f}s",
                flush=True,
            )
    from core.checkpoints import save_checkpoint

    save_checkpoint(
        a.out,
        model.eval(),
        arch=arch_dict(model.arch),
        meta={
            "pool": len(pool),
            "steps": a.steps,
            "scenes": a.scenes,
            "train_median_err_last50": float(np.mean(errs[-50:])),
        },
    )
    print(f"saved {a.out} ({len(pool)} long screws, {time.time() - t0:.0f}s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
