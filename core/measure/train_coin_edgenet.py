"""Train CoinEdgeNet (:mod:`core.measure.coin_edgenet`) on the coins of studio photos, in one command::

    python -m core.measure.train_coin_edgenet --threads 1 --out models/measure/coin_edgenet.safetensors

Per photo (``search`` photos, half rendered at 512x384 and half at 1280x960, as the locator and the search
see them) the true coin ellipse is fitted through the studio's coin polygon (a tilted circle is an exact
ellipse); ``starts`` first ellipses are drawn around it, moved as a segmenter's mask moves it (centre by a normal
``start_scale`` x 1 px at 512x384 and proportionally more on larger coins, up to 3x; axes by 0.7 of that; angle
by 3 deg; every other start within a third of that, as a later pass starts), and every profile across their
outlines is kept with, as its target, where its normal crosses the true ellipse. The network is fitted with a
smooth-L1 loss; the epoch with the lowest loss on ``--val-n`` photos of the validation seed is saved (the locator's figures are chosen on validation by
``python -m core.segment.evaluate --split val``, never on the held-out seeds, which this command refuses).
"""

from __future__ import annotations

import argparse
import json
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
from numpy.typing import NDArray

from core.measure.coin import EllipseFit
from core.measure.coin_edgenet import CoinEdgeArch, CoinEdgeNet, arch_dict, profile_features

__all__ = ["true_ellipse", "normal_crossings", "collect", "train_coin_edgenet", "main"]

#: Photo sizes the profiles are collected at, in turn.
SIZES = ((512, 384), (1280, 960))


def true_ellipse(polygon: NDArray[np.float64]) -> EllipseFit:
    """The ellipse through a coin's outline polygon (XY pixels)."""
    (cx, cy), (d1, d2), ang = cv2.fitEllipse(np.asarray(polygon, np.float32))
    a, b, rot = (d1 / 2, d2 / 2, ang) if d1 >= d2 else (d2 / 2, d1 / 2, ang + 90.0)
    return EllipseFit(float(cx), float(cy), float(a), float(b), float(rot % 180.0), 0.0, len(polygon))


def _implicit(fit: EllipseFit, x: NDArray[np.float64], y: NDArray[np.float64]) -> NDArray[np.float64]:
    r = math.radians(fit.angle_deg)
    dx, dy = x - fit.cx, y - fit.cy
    u = dx * math.cos(r) + dy * math.sin(r)
    v = -dx * math.sin(r) + dy * math.cos(r)
    return np.asarray((u / fit.a) ** 2 + (v / fit.b) ** 2 - 1.0, np.float64)


def normal_crossings(
    truth: EllipseFit,
    x: NDArray[np.float64],
    y: NDArray[np.float64],
    nx: NDArray[np.float64],
    ny: NDArray[np.float64],
    reach: float = 6.0,
) -> NDArray[np.float64]:
    """Signed distance along each ray (x, y) + t (nx, ny) to where it leaves ``truth`` (inside -> outside),
    within ``reach`` px; NaN where it does not cross there."""
    dt = 0.05
    ts = np.arange(-reach, reach + 1e-9, dt)
    f = _implicit(truth, x[:, None] + ts * nx[:, None], y[:, None] + ts * ny[:, None])  # (N, T)
    cross = (f[:, :-1] < 0) & (f[:, 1:] >= 0)
    k = np.argmax(cross, 1)
    i = np.arange(len(x))
    f0, f1 = f[i, k], f[i, k + 1]
    t = ts[k] + dt * f0 / np.where(f0 != f1, f0 - f1, -1e-12)
    return np.where(cross.any(1), t, np.nan)


def _start(truth: EllipseFit, rng: np.random.Generator, near: bool, scale: float = 1.0) -> EllipseFit:
    s = float(np.clip(truth.a / 30.0, 1.0, 3.0)) * (0.33 if near else 1.0) * scale
    return EllipseFit(
        truth.cx + rng.normal(0, s),
        truth.cy + rng.normal(0, s),
        max(truth.a + rng.normal(0, 0.7 * s), 3.0),
        max(truth.b + rng.normal(0, 0.7 * s), 3.0),
        truth.angle_deg + rng.normal(0, 3.0),
        0.0,
        0,
    )


def collect(
    seed: int,
    n: int,
    arch: CoinEdgeArch | None = None,
    starts: int = 2,
    progress: bool = True,
    start_scale: float = 1.5,
    on_photo: Callable[[int], None] | None = None,
) -> dict[str, NDArray[np.float32]]:
    """Profiles ``x`` (M, features) and targets ``y`` (M,) px from the coins of ``n`` studio photos
    (``start_scale`` scales how far the first ellipses are drawn from the truth; ``on_photo(i + 1)`` after
    each)."""
    from tqdm import tqdm

    from core.catalog.catalog import load_arrays
    from core.synth import StudioConfig, render_index

    arch = arch or CoinEdgeArch()
    arrays = load_arrays()
    rng = np.random.default_rng(seed)
    xs, ys = [], []
    for i in tqdm(range(n), desc=f"coin profiles seed {seed}", disable=not progress):
        w, h = SIZES[i % len(SIZES)]
        photo = render_index(arrays, "search", seed, i, StudioConfig(width=w, height=h))
        if on_photo is not None:
            on_photo(i + 1)
        if photo.coin_polygon is None:
            continue
        truth = true_ellipse(photo.coin_polygon)
        for k in range(starts):
            feat, (x, y, nx, ny) = profile_features(
                photo.image, _start(truth, rng, k % 2 == 1, start_scale), arch
            )
            t = normal_crossings(truth, x, y, nx, ny)
            ok = np.isfinite(t) & (np.abs(t) < arch.half_length - 0.5)
            ok &= (x > arch.half_length) & (y > arch.half_length)
            ok &= (x < w - 1 - arch.half_length) & (y < h - 1 - arch.half_length)
            xs.append(feat[ok])
            ys.append(t[ok].astype(np.float32))
    if not xs:
        return {"x": np.zeros((0, arch.features), np.float32), "y": np.zeros(0, np.float32)}
    return {"x": np.concatenate(xs), "y": np.concatenate(ys)}


def train_coin_edgenet(
    train: dict[str, NDArray[np.float32]],
    val: dict[str, NDArray[np.float32]],
    arch: CoinEdgeArch | None = None,
    epochs: int = 30,
    batch: int = 512,
    lr: float = 2e-3,
    seed: int = 0,
    progress: bool = True,
    on_epoch: Callable[[dict[str, Any]], None] | None = None,
) -> tuple[CoinEdgeNet, list[dict[str, Any]], dict[str, Any]]:
    """Fit a CoinEdgeNet; returns it at the epoch with the lowest validation loss (the last one without
    validation profiles), the per-epoch log and that epoch's row (``on_epoch(row)`` after each epoch)."""
    from tqdm import tqdm

    torch.manual_seed(seed)
    net = CoinEdgeNet(arch or CoinEdgeArch())
    opt = torch.optim.Adam(net.parameters(), lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, max(epochs, 1))
    xt, yt = torch.from_numpy(train["x"]), torch.from_numpy(train["y"])
    xv, yv = torch.from_numpy(val["x"]), torch.from_numpy(val["y"])

    def loss_fn(p: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.smooth_l1_loss(p, y, beta=0.25)

    best: tuple[dict[str, Any], dict[str, torch.Tensor]] | None = None
    log: list[dict[str, Any]] = []
    for ep in tqdm(range(1, epochs + 1), desc="coin edgenet epochs", disable=not progress):
        net.train()
        perm = torch.randperm(len(xt))
        total = 0.0
        for j in range(0, len(xt), batch):
            idx = perm[j : j + batch]
            loss = loss_fn(net(xt[idx]), yt[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(idx)
        sched.step()
        net.eval()
        with torch.inference_mode():
            pv = net(xv) if len(xv) else torch.zeros(0)
            vloss = float(loss_fn(pv, yv)) if len(xv) else float("nan")
            vmed = float((pv - yv).abs().median()) if len(xv) else float("nan")
        row = {
            "epoch": ep,
            "train_loss": total / max(len(xt), 1),
            "val_loss": vloss,
            "val_median_abs_px": vmed,
        }
        log.append(row)
        if on_epoch is not None:
            on_epoch(row)
        if progress:
            tqdm.write(json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in row.items()}))
        if best is None or not vloss > best[0]["val_loss"]:  # NaN (no validation): the latest epoch
            best = (row, {k: v.detach().clone() for k, v in net.state_dict().items()})
    assert best is not None  # epochs >= 1
    net.load_state_dict(best[1])
    return net.eval(), log, best[0]


def main(argv: list[str] | None = None) -> int:
    """The command line; a bad argument is a one-line error (exit 2), not a traceback."""
    from core.errors import cli_exit

    return cli_exit(_main, argv)


def _main(argv: list[str] | None = None) -> int:
    from core.errors import ConfigError
    from core.segment.data import VAL_SEED, refuse_heldout_seed

    p = argparse.ArgumentParser(
        prog="python -m core.measure.train_coin_edgenet", description=__doc__.split("\n")[0]
    )
    p.add_argument("--seed", type=int, default=191, help="studio seed of the training photos")
    p.add_argument("--n", type=int, default=4000, help="training photos")
    p.add_argument(
        "--val-n", type=int, default=200, help="photos of the validation seed for the epoch choice"
    )
    p.add_argument("--starts", type=int, default=2, help="first ellipses drawn per photo")
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument(
        "--start-scale", type=float, default=1.5, help="how far the first ellipses start (x ~1 px)"
    )
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--half-length", type=float, default=6.0, help="px of profile either side of the outline")
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", required=True, help="the .safetensors file to write")
    p.add_argument(
        "--run-dir", default=None, help="also write progress.json and metrics.jsonl here (workbench job)"
    )
    a = p.parse_args(argv)
    refuse_heldout_seed(a.seed)
    if a.seed == VAL_SEED:
        raise ConfigError(f"seed {a.seed} is the validation seed; pick another", field="seed")
    if a.n < 1 or a.epochs < 1 or a.starts < 1 or a.val_n < 0:
        raise ConfigError("need --n, --epochs and --starts >= 1 and --val-n >= 0", field="n")
    if a.half_length < 1.0 or a.start_scale <= 0:
        raise ConfigError("need --half-length >= 1 and --start-scale > 0", field="half_length")
    torch.set_num_threads(a.threads)
    from core.train.run_files import ProgressWriter, append_metrics

    run_dir = Path(a.run_dir) if a.run_dir else None
    if run_dir is not None:
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "metrics.jsonl").unlink(missing_ok=True)
    # rendering the photos and the epochs weigh about the same on two cores
    n_photos = a.n + a.val_n
    per_epoch = max(1, n_photos // a.epochs)
    prog = ProgressWriter(run_dir, n_photos + a.epochs * per_epoch, a.epochs)
    offset = 0

    def tick(i: int) -> None:
        prog.update(offset + i, 0)

    def epoch_done(row: dict[str, Any]) -> None:
        if run_dir is not None:
            append_metrics(run_dir / "metrics.jsonl", row)
        prog.update(n_photos + int(row["epoch"]) * per_epoch, int(row["epoch"]), force=True)

    t0 = time.time()
    arch = CoinEdgeArch(hidden=a.hidden, half_length=a.half_length)
    try:
        train = collect(a.seed, a.n, arch, a.starts, start_scale=a.start_scale, on_photo=tick)
        offset = a.n
        val = collect(VAL_SEED, a.val_n, arch, a.starts, start_scale=a.start_scale, on_photo=tick)
        offset = n_photos
        if len(train["y"]) == 0:
            raise ConfigError(f"no coin in the {a.n} photos of seed {a.seed}; take more photos", field="n")
        net, _, best = train_coin_edgenet(train, val, arch, a.epochs, lr=a.lr, on_epoch=epoch_done)
    except Exception as e:
        prog.update(offset, 0, status="failed", error=str(e), force=True)
        raise
    from core.checkpoints import save_checkpoint

    save_checkpoint(
        a.out,
        net,
        arch=arch_dict(net.arch),
        meta={
            "seed": a.seed,
            "photos": a.n,
            "starts": a.starts,
            "start_scale": a.start_scale,
            "profiles": int(len(train["y"])),
            "val_seed": VAL_SEED,
            "val_photos": a.val_n,
            "epochs": a.epochs,
            "chosen_epoch": best["epoch"],
            "val_loss": best["val_loss"],
            "val_median_abs_px": best["val_median_abs_px"],
            "wall_s": round(time.time() - t0, 1),
        },
    )
    prog.update(prog.total, a.epochs, status="done", force=True)
    print(json.dumps({"out": a.out, **{k: v for k, v in best.items()}, "profiles": int(len(train["y"]))}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
