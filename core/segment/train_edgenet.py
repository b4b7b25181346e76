"""Train EdgeNet (:mod:`core.segment.edgenet`) on the locator's own screw blobs of studio photos.

Two steps, so that several collections can run side by side on a small machine::

    python -m core.segment.train_edgenet collect --mode search --seed 91 --n 2000 --out runs/edgenet/s91.npz
    python -m core.segment.train_edgenet train --data runs/edgenet/s91.npz ... --val runs/edgenet/val.npz \\
        --out models/segmenter/edgenet.safetensors

``collect`` runs the locator's segmentation (segmenter + GrabCut edges, :meth:`core.locate.Locator.screw_blobs`)
on studio photos and keeps, per photo, the EdgeNet crop around the blob that overlaps the true screw most, with
the true mask cut the same way. ``--refine-zoom 1.6 --width 1280 --height 960`` gives the search engine's blobs.
``train`` fits EdgeNet on random windows of the crops (flips and quarter turns: the screw lies any way) and
measures pooled IoU of whole validation crops, blob vs EdgeNet, every ``--eval-every`` steps; the best is saved.
"""

from __future__ import annotations

import argparse
import copy
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray

from core.errors import ConfigError, DatasetError
from core.segment.data import add_blob_collect_args, grabcut_from_args, refuse_heldout_seed
from core.segment.edgenet import (
    EdgeNet,
    EdgeNetArch,
    arch_dict,
    create_edgenet,
    edge_crop,
    edge_input,
    edge_logits,
)

__all__ = ["collect", "load_crops", "crop_iou", "train_edgenet", "main"]


def collect(
    mode: str,
    seed: int,
    n: int,
    width: int = 512,
    height: int = 384,
    refine_zoom: float = 1.0,
    segmenter: str | None = None,
    arch: EdgeNetArch | None = None,
    progress: bool = True,
    grabcut: Any | None = None,
) -> dict[str, NDArray]:
    """EdgeNet crops of ``n`` studio photos: flat uint8 arrays ``x`` (5 channels: RGB, probability x 255,
    blob x 255, truth x 255 as a 6th) with ``shape`` (N, 2) and ``offset`` (N,) to cut them apart."""
    from core.segment.data import locator_blobs, studio_masks

    arch = arch or EdgeNetArch()
    flat, shapes, photos = [], [], []
    for i, photo, seg in locator_blobs(
        mode,
        seed,
        n,
        width,
        height,
        refine_zoom,
        segmenter,
        desc="edge crops",
        progress=progress,
        grabcut=grabcut,
    ):
        img = photo.image
        blobs = seg.instances.get("screw", [])
        truth, _ = studio_masks(photo)
        if not blobs or not truth.any():
            continue
        blob = max(blobs, key=lambda m: int((m & truth).sum()))
        if not (blob & truth).any():
            continue
        crop = edge_crop(blob, arch)
        prob = seg.probs[seg.classes.index("screw")]
        x = edge_input(img, prob, blob, crop)  # (5, h, w)
        t = edge_input(img, truth.astype(np.float32), truth, crop)[4:5]
        x6 = np.concatenate([x[:3] + 0.5, x[3:], t]) * 255.0
        arr = np.clip(np.round(x6), 0, 255).astype(np.uint8)
        flat.append(arr.reshape(-1))
        shapes.append(arr.shape[1:])
        photos.append(i)
    if not flat:
        raise DatasetError(f"no screw blobs in {n} photos of {mode} seed {seed}; is the segmenter trained?")
    sizes = [a.size for a in flat]
    return {
        "x": np.concatenate(flat),
        "shape": np.array(shapes, np.int32),
        "offset": np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64),
        "photo": np.array(photos, np.int32),
    }


def load_crops(paths: list[str]) -> list[NDArray[np.uint8]]:
    """The (6, h, w) uint8 crops of one or more ``collect`` files."""
    out = []
    for p in paths:
        try:
            with np.load(p) as z:
                x, shape, offset = z["x"], z["shape"], z["offset"]
        except (OSError, KeyError, ValueError) as e:
            raise DatasetError(
                f"{p} is not an EdgeNet crop file ({e}); make one with `python -m core.segment.train_edgenet "
                "collect`"
            ) from e
        for (h, w), o in zip(shape, offset, strict=True):
            out.append(x[o : o + 6 * h * w].reshape(6, h, w))
    return out


def _to_input(c: NDArray[np.uint8]) -> NDArray[np.float32]:
    x = c[:5].astype(np.float32) / 255.0
    x[:3] -= 0.5
    return x


def crop_iou(model: EdgeNet | None, crops: list[NDArray[np.uint8]]) -> float:
    """Pooled IoU with the truth over whole crops: EdgeNet's answer (threshold 0.5), or the blob when None."""
    inter = union = 0.0
    for c in crops:
        t = c[5] >= 128
        if model is None:
            p = c[4] >= 128
        else:
            p = edge_logits(model.eval(), _to_input(c)) > 0.0
        inter += float((p & t).sum())
        union += float((p | t).sum())
    return inter / max(union, 1.0)


def _window(c: NDArray[np.uint8], size: int, rng: np.random.Generator) -> NDArray[np.float32]:
    """One random (6, size, size) window, centred where blob and truth disagree 70 % of the time."""
    _, h, w = c.shape
    if h < size or w < size:
        c = np.pad(c, ((0, 0), (0, max(0, size - h)), (0, max(0, size - w))), mode="edge")
        _, h, w = c.shape
    diff = np.argwhere((c[4] >= 128) != (c[5] >= 128))
    if len(diff) and rng.random() < 0.7:
        cy, cx = diff[rng.integers(len(diff))]
        y0 = int(np.clip(cy - size // 2 + rng.integers(-8, 9), 0, h - size))
        x0 = int(np.clip(cx - size // 2 + rng.integers(-8, 9), 0, w - size))
    else:
        y0, x0 = int(rng.integers(0, h - size + 1)), int(rng.integers(0, w - size + 1))
    win = c[:, y0 : y0 + size, x0 : x0 + size].astype(np.float32) / 255.0
    k = int(rng.integers(4))
    win = np.rot90(win, k, axes=(1, 2))
    if rng.random() < 0.5:
        win = win[:, :, ::-1]
    rgb = win[:3] * rng.uniform(0.8, 1.2) + rng.uniform(-0.08, 0.08)
    win = np.concatenate([np.clip(rgb, 0, 1) - 0.5, win[3:]])
    return np.ascontiguousarray(win)


def train_edgenet(
    train: list[NDArray[np.uint8]],
    val: list[NDArray[np.uint8]],
    steps: int = 4000,
    batch: int = 16,
    window: int = 96,
    lr: float = 2e-3,
    width: int = 16,
    eval_every: int = 500,
    seed: int = 0,
    progress: bool = True,
    on_eval: Callable[[dict[str, float]], None] | None = None,
) -> tuple[EdgeNet, list[dict[str, float]]]:
    """Fit EdgeNet; returns the evaluation with the highest validation IoU and the evaluation log."""
    from tqdm import tqdm

    if not train or not val:
        raise DatasetError("EdgeNet needs training and validation crops; run `collect` first")
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = create_edgenet(width=width)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps, pct_start=0.05)
    base = crop_iou(None, val)
    log: list[dict[str, float]] = []
    best, best_iou = copy.deepcopy(model.state_dict()), base
    run = 0.0
    bar = tqdm(range(1, steps + 1), desc="edgenet steps", disable=not progress)
    for step in bar:
        model.train()
        xb = np.stack([_window(train[int(rng.integers(len(train)))], window, rng) for _ in range(batch)])
        x = torch.from_numpy(xb[:, :5])
        y = torch.from_numpy(xb[:, 5:6])
        logit = model(x)
        p = torch.sigmoid(logit)
        inter = (p * y).sum((1, 2, 3))
        union = (p + y - p * y).sum((1, 2, 3))
        loss = (
            torch.nn.functional.binary_cross_entropy_with_logits(logit, y)
            + (1.0 - (inter + 1.0) / (union + 1.0)).mean()
        )
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        run = 0.98 * run + 0.02 * float(loss.detach()) if step > 1 else float(loss.detach())
        bar.set_postfix(loss=f"{run:.4f}")
        if step % eval_every == 0 or step == steps:
            iou = crop_iou(model, val)
            row = {"step": step, "train_loss": run, "val_iou": iou, "val_iou_blob": base}
            log.append(row)
            if iou > best_iou:
                best, best_iou = copy.deepcopy(model.state_dict()), iou
            if on_eval is not None:
                on_eval(row)
            tqdm.write(json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in row.items()}))
    model.load_state_dict(best)
    return model.eval(), log


def main(argv: list[str] | None = None) -> int:
    """The command line; a bad argument or missing file is a one-line error (exit 2), not a traceback."""
    from core.errors import cli_exit

    return cli_exit(_main, argv)


def _main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m core.segment.train_edgenet", description=__doc__.split("\n")[0]
    )
    sub = p.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("collect", help="EdgeNet crops of studio photos -> .npz")
    add_blob_collect_args(c)
    t = sub.add_parser("train", help="fit EdgeNet on collected crops")
    t.add_argument("--data", nargs="+", required=True, help="training crop files")
    t.add_argument("--val", nargs="+", required=True, help="validation crop files (other seeds)")
    t.add_argument("--steps", type=int, default=4000)
    t.add_argument("--batch", type=int, default=16)
    t.add_argument("--window", type=int, default=96)
    t.add_argument("--lr", type=float, default=2e-3)
    t.add_argument("--width", type=int, default=16)
    t.add_argument("--eval-every", type=int, default=500)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--threads", type=int, default=1)
    t.add_argument("--out", required=True)
    a = p.parse_args(argv)
    if a.cmd == "collect":
        refuse_heldout_seed(a.seed)
        d = collect(
            a.mode, a.seed, a.n, a.width, a.height, a.refine_zoom, a.segmenter, grabcut=grabcut_from_args(a)
        )
        Path(a.out).parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(a.out, **d)  # type: ignore[arg-type]
        print(json.dumps({"out": a.out, "crops": len(d["shape"]), "photos": a.n}))
        return 0
    if a.steps < 1 or a.batch < 1 or a.window % 8:
        raise ConfigError("need --steps >= 1, --batch >= 1 and --window a multiple of 8", field="steps")
    torch.set_num_threads(a.threads)
    t0 = time.time()
    model, log = train_edgenet(
        load_crops(a.data), load_crops(a.val), a.steps, a.batch, a.window, a.lr, a.width, a.eval_every, a.seed
    )
    from core.checkpoints import save_checkpoint

    best = max(log, key=lambda r: r["val_iou"])
    save_checkpoint(
        a.out,
        model,
        arch=arch_dict(model.arch),
        meta={
            "data": a.data,
            "val": a.val,
            "steps": a.steps,
            "lr": a.lr,
            "chosen_step": best["step"] if best["val_iou"] > best["val_iou_blob"] else 0,
            "val_iou": max(best["val_iou"], best["val_iou_blob"]),
            "val_iou_blob": best["val_iou_blob"],
            "wall_s": round(time.time() - t0, 1),
        },
    )
    print(json.dumps({"out": a.out, "best": best}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
