"""Train RotationNet on long studio screws: ``python -m core.pose.train_rotationnet --out FILE``.

Photos come from the studio (core.synth ``train`` mode, dataset seed :data:`ROTNET_SEED`). Labels come from the
geometry on long screws (min-area rectangle + half areas), never from the renderer's angle: each long screw
is put head-up with its computed angle, cut to a random shorter length (head kept), and turned by a random
known angle. After training, head side is measured on validation ``short`` photos (seed VAL_SEED + 1, true
masks), with and without the net.
"""

from __future__ import annotations

import argparse
import json
import math
import time

import cv2
import numpy as np
import torch
from numpy.typing import NDArray

from core.errors import ConfigError, DatasetError
from core.pose.canonical import canonicalize
from core.pose.geometry import axis_from_mask, head_side
from core.pose.rotationnet import arch_dict, create_rotationnet, decode_bins, rotnet_input

__all__ = ["long_screw_samples", "make_sample", "short_head_side_accuracy", "main", "ROTNET_SEED"]

#: Dataset seed of the studio photos RotationNet trains on (``train`` mode; the segmenter uses 11 and 12).
ROTNET_SEED = 21


def long_screw_samples(
    n_photos: int,
    seed: int = ROTNET_SEED,
    width: int = 512,
    height: int = 384,
    min_aspect: float = 2.5,
    locator: object | None = None,
    min_iou: float = 0.3,
) -> list[tuple[NDArray[np.uint8], NDArray[np.bool_]]]:
    """Head-up RGBA cut-outs of the long screws in ``n_photos`` studio photos (core.synth ``train`` mode).

    The head side and angle come from the geometry on each screw's mask (min-area rectangle + half areas),
    never from the renderer's truth: screws whose rectangle is shorter than ``min_aspect`` x its width are
    skipped, as are coin-only photos and screws cut by the border.

    With a ``locator`` (:class:`core.locate.Locator`), the cut-out's mask is the locator's own blob of that
    screw (:meth:`~core.locate.Locator.screw_blobs`, the one overlapping the true mask most, IoU >=
    ``min_iou``), turned head-up by the angle the geometry computes on the true mask: the net then learns
    from the masks it will see, holes, missed heads and stray pixels included. Screws without such a blob are
    skipped.
    """
    from core.catalog.catalog import load_arrays
    from core.segment.data import polygon_mask
    from core.synth import StudioConfig, render_index

    arrays = load_arrays()
    cfg = StudioConfig(width=width, height=height)
    out = []
    for k in range(n_photos):
        photo = render_index(arrays, "train", seed, k, cfg)
        if photo.screw_polygon is None:
            continue
        mask = polygon_mask(photo.screw_polygon, height, width)
        if not mask.any() or mask[0].any() or mask[-1].any() or mask[:, 0].any() or mask[:, -1].any():
            continue
        ax = axis_from_mask(mask)
        if ax.aspect < min_aspect:
            continue
        ang, _ = head_side(mask, ax)
        if locator is not None:
            blobs = locator.screw_blobs(photo.image).instances.get("screw", [])  # type: ignore[attr-defined]
            if not blobs:
                continue
            pred = max(blobs, key=lambda b: int((b & mask).sum()))
            if (pred & mask).sum() < min_iou * (pred | mask).sum():
                continue
            pax = axis_from_mask(pred)
            can = canonicalize(photo.image, pred, pax.center, ang, pax.length_px)
        else:
            can = canonicalize(photo.image, mask, ax.center, ang, ax.length_px)
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


def short_head_side_accuracy(
    model: torch.nn.Module | None, n: int, seed: int, width: int = 512, height: int = 384
) -> float:
    """Share of short screws (studio ``short`` photos of dataset ``seed``, true masks) whose head side is
    right: within 90 deg of the truth. ``model=None`` measures the geometry (rectangle + half areas)."""
    from core.catalog.catalog import load_arrays
    from core.pose.rotationnet import predict_angle
    from core.segment.data import polygon_mask
    from core.synth import StudioConfig, render_index

    arrays = load_arrays()
    cfg = StudioConfig(width=width, height=height)
    hits = []
    for k in range(n):
        photo = render_index(arrays, "short", seed, k, cfg)
        mask = polygon_mask(photo.screw_polygon, height, width)
        if not mask.any():
            continue
        if model is None:
            ang, _ = head_side(mask, axis_from_mask(mask))
        else:
            ang = predict_angle(model, photo.image, mask)  # type: ignore[arg-type]
        hits.append(abs((ang - photo.meta["angle_deg"] + 180.0) % 360.0 - 180.0) < 90.0)
    return float(np.mean(hits)) if hits else float("nan")


def main(argv: list[str] | None = None) -> int:
    from core.segment.data import VAL_SEED

    p = argparse.ArgumentParser(prog="python -m core.pose.train_rotationnet")
    p.add_argument("--out", required=True, help="checkpoint file (.safetensors)")
    p.add_argument(
        "--photos",
        "--scenes",  # the old name, still used by the job template
        dest="photos",
        type=int,
        default=1500,
        help="studio train-mode photos to take long screws from",
    )
    p.add_argument("--steps", type=int, default=1500)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--val-short", type=int, default=100, help="validation short photos (seed VAL_SEED + 1)")
    p.add_argument(
        "--photo-seed", type=int, default=ROTNET_SEED, help="dataset seed of the train-mode photos"
    )
    p.add_argument(
        "--pipeline-masks",
        default=None,
        metavar="SEGMENTER",
        help="learn from this segmenter's blobs (after the locator's GrabCut edges) instead of the true masks",
    )
    p.add_argument("--init", default=None, help="start from this RotationNet checkpoint (fine-tuning)")
    p.add_argument("--lr", type=float, default=3e-3, help="peak learning rate of the one-cycle schedule")
    a = p.parse_args(argv)
    if a.photos < 1 or a.steps < 1 or a.batch < 1:
        raise ConfigError("--photos, --steps and --batch must be positive", field="steps")
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    rng = np.random.default_rng(a.seed)
    t0 = time.time()
    locator = None
    if a.pipeline_masks:
        from core.locate.pipeline import Locator

        locator = Locator.from_files(a.pipeline_masks, threads=a.threads)
    pool = long_screw_samples(a.photos, a.photo_seed, locator=locator)
    if not pool:
        raise DatasetError(f"no long screw in {a.photos} studio photos; ask for more --photos")
    print(f"{len(pool)} long screws from {a.photos} photos, {time.time() - t0:.0f}s", flush=True)
    model = create_rotationnet()
    if a.init:
        from core.checkpoints import build_from_checkpoint

        model = build_from_checkpoint(a.init, create_rotationnet)  # type: ignore[assignment]
    bins = model.arch.bins
    size = model.arch.input_size
    opt = torch.optim.AdamW(model.parameters(), lr=a.lr * 2 / 3)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=a.lr, total_steps=a.steps)
    centers = torch.arange(bins) * (360.0 / bins)
    errs: list[float] = []
    for step in range(a.steps):
        xs, ts = zip(
            *(make_sample(*pool[int(rng.integers(len(pool)))], rng, size) for _ in range(a.batch)),
            strict=True,
        )
        x = torch.from_numpy(np.stack(xs))  # (B, 4, S, S)
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
    model.eval()
    val = {
        "val_short_head_side_rotationnet": short_head_side_accuracy(model, a.val_short, VAL_SEED + 1),
        "val_short_head_side_geometry": short_head_side_accuracy(None, a.val_short, VAL_SEED + 1),
    }
    print(json.dumps(val), flush=True)
    from core.checkpoints import save_checkpoint

    save_checkpoint(
        a.out,
        model,
        arch=arch_dict(model.arch),
        meta={
            "pool": len(pool),
            "photos": a.photos,
            "photo_seed": a.photo_seed,
            "pipeline_masks": a.pipeline_masks,
            "init": a.init,
            "lr": a.lr,
            "steps": a.steps,
            "batch": a.batch,
            "train_median_err_last50": float(np.mean(errs[-50:])),
            **val,
        },
    )
    print(f"saved {a.out} ({len(pool)} long screws, {time.time() - t0:.0f}s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
