"""Train HeadEndNet (:mod:`core.pose.headend`) on the locator's own screw masks, in one command::

    python -m core.pose.train_headend --threads 2 --out models/rotationnet/headend.safetensors

The shipped locator (segmenter, GrabCut, EdgeNet, blob verifier, RotationNet; no HeadEndNet) runs on studio
photos of ``--seed`` (``search`` photos at 512x384, ``--n-short`` ``short`` photos at 512x384 of seed + 1 and
``--n-large`` ``search`` photos at 1280x960 of seed + 2, as the search app sees them); for the found screw that
overlaps the true one most, the strip along its mask's axis is cut with the end towards the studio's true head
up (label 1). Training turns each strip round at random (label 0), mirrors it left-right and varies its
brightness; BCE loss, AdamW with a one-cycle schedule. Every ``--eval-every`` steps the loss on strips of
``--val-n`` photos of the validation seed (both ways up) is computed and the best step's weights are saved.
The locator's threshold is chosen with ``python -m core.segment.evaluate --split val``, never on the held-out
seeds, which this command refuses.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray

from core.pose.headend import HeadEndArch, HeadEndNet, arch_dict, headend_strip, strips_tensor

__all__ = ["collect", "train_headend", "main"]


def collect(
    locator: Any,
    seed: int,
    n: int,
    arch: HeadEndArch,
    mode: str = "search",
    size: tuple[int, int] = (512, 384),
    on_photo: Callable[[int], None] | None = None,
) -> NDArray[np.uint8]:
    """(N, height, width, 4) strips, head end up, of the screws ``locator`` finds in ``n`` studio photos."""
    from core.errors import NoScrewFoundError
    from core.measure import length_px_along_axis
    from core.segment.data import studio_masks
    from core.segment.evaluate import _angle_err, heldout_photos

    out: list[NDArray[np.uint8]] = []
    for i, photo in enumerate(heldout_photos(n, mode, seed, size[0], size[1])):
        if on_photo is not None:
            on_photo(i + 1)
        truth = studio_masks(photo)[0]
        try:
            screws = locator.locate(photo.image).screws
        except NoScrewFoundError:
            continue
        best = max(screws, key=lambda s: int((s.mask & truth).sum()), default=None)
        if best is None or not (best.mask & truth).any():
            continue
        axis = best.angle_deg % 180.0
        up = axis if _angle_err(axis, photo.meta["angle_deg"]) < 90.0 else axis + 180.0
        length = length_px_along_axis(best.mask, best.angle_deg)
        out.append(headend_strip(photo.image, best.mask, best.center, up, length, arch))
    if not out:
        return np.zeros((0, arch.height, arch.width, 4), np.uint8)
    return np.stack(out)


def _both_ways(strips: NDArray[np.uint8]) -> tuple[torch.Tensor, torch.Tensor]:
    """Each strip as cut (label 1) and turned round (label 0)."""
    x = np.concatenate([strips, strips[:, ::-1, ::-1]])
    y = np.concatenate([np.ones(len(strips)), np.zeros(len(strips))]).astype(np.float32)
    return strips_tensor(x), torch.from_numpy(y)


def train_headend(
    train: NDArray[np.uint8],
    val: NDArray[np.uint8],
    arch: HeadEndArch,
    steps: int = 3000,
    batch: int = 64,
    lr: float = 2e-3,
    eval_every: int = 250,
    seed: int = 0,
    on_eval: Callable[[dict[str, Any]], None] | None = None,
) -> tuple[HeadEndNet, list[dict[str, Any]], dict[str, Any]]:
    """Fit a HeadEndNet; returns it with the weights of the step of lowest validation loss (the last step's when
    there are no validation strips), the evaluation log and that step's row."""
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    net = HeadEndNet(arch)
    opt = torch.optim.AdamW(net.parameters(), lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, lr, total_steps=steps)
    lossf = torch.nn.BCEWithLogitsLoss()
    xv, yv = _both_ways(val)
    best: tuple[dict[str, Any], dict[str, torch.Tensor]] | None = None
    log: list[dict[str, Any]] = []
    running = float("nan")
    for step in range(1, steps + 1):
        idx = rng.integers(0, len(train), batch)
        xb = train[idx].copy()
        y = rng.random(batch) < 0.5  # True: head up as cut
        xb[~y] = xb[~y][:, ::-1, ::-1]
        mirror = rng.random(batch) < 0.5
        xb[mirror] = xb[mirror][:, :, ::-1]
        t = strips_tensor(xb)
        t[:, :3] = t[:, :3] * torch.empty(batch, 1, 1, 1).uniform_(0.8, 1.2)
        t[:, :3] = t[:, :3] + torch.empty(batch, 3, 1, 1).uniform_(-0.08, 0.08)
        net.train()
        loss = lossf(net(t), torch.from_numpy(y.astype(np.float32)))
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        running = float(loss.detach()) if step == 1 else 0.98 * running + 0.02 * float(loss.detach())
        if step % eval_every and step != steps:
            continue
        net.eval()
        with torch.inference_mode():
            lv = net(xv) if len(xv) else torch.zeros(0)
        row = {
            "step": step,
            "train_loss": running,
            "val_loss": float(lossf(lv, yv)) if len(xv) else float("nan"),
            "val_accuracy": float(((lv > 0) == (yv > 0.5)).float().mean()) if len(xv) else float("nan"),
        }
        log.append(row)
        if on_eval is not None:
            on_eval(row)
        if best is None or not row["val_loss"] > best[0]["val_loss"]:  # NaN (no validation): the latest
            best = (row, {k: v.detach().clone() for k, v in net.state_dict().items()})
    assert best is not None  # steps >= 1: the last step is always evaluated
    net.load_state_dict(best[1])
    return net.eval(), log, best[0]


def _pipeline_locator() -> Any:
    """The shipped locator without a HeadEndNet (what the strips are cut from)."""
    from core.checkpoints import build_from_checkpoint
    from core.errors import CheckpointError
    from core.locate.pipeline import Locator
    from core.measure.coin_edgenet import load_coin_edgenet
    from core.paths import models_dir
    from core.pose.rotationnet import create_rotationnet
    from core.segment import Segmenter, load_segmenter
    from core.segment.edgenet import load_edgenet
    from core.segment.verify import load_verifier

    root = Path(models_dir())
    seg = root / "segmenter" / "segmenter.safetensors"
    rot = root / "rotationnet" / "rotationnet.safetensors"
    for f in (seg, rot):
        if not f.is_file():
            raise CheckpointError(
                "HeadEndNet learns from the shipped locator's masks; this file is missing", path=f
            )
    rn = build_from_checkpoint(rot, create_rotationnet).eval()
    return Locator(
        Segmenter(load_segmenter(seg)),
        rn,
        verifier=load_verifier(),
        edgenet=load_edgenet(),
        coin_edgenet=load_coin_edgenet(),
    )


def main(argv: list[str] | None = None) -> int:
    """The command line; a bad argument is a one-line error (exit 2), not a traceback."""
    from core.errors import cli_exit

    return cli_exit(_main, argv)


def _main(argv: list[str] | None = None) -> int:
    from core.errors import ConfigError
    from core.segment.data import VAL_SEED, refuse_heldout_seed

    p = argparse.ArgumentParser(prog="python -m core.pose.train_headend", description=__doc__.split("\n")[0])
    p.add_argument(
        "--seed", type=int, default=197, help="studio seed of the search photos (+1 short, +2 large)"
    )
    p.add_argument("--n", type=int, default=2500, help="search photos at 512x384")
    p.add_argument("--n-short", type=int, default=800, help="short-screw photos at 512x384")
    p.add_argument("--n-large", type=int, default=400, help="search photos at 1280x960")
    p.add_argument("--val-n", type=int, default=200, help="photos of the validation seed for the step choice")
    p.add_argument("--steps", type=int, default=3000)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--eval-every", type=int, default=250)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", required=True, help="the .safetensors file to write")
    p.add_argument(
        "--run-dir", default=None, help="also write progress.json and metrics.jsonl here (workbench job)"
    )
    a = p.parse_args(argv)
    for s in (a.seed, a.seed + 1, a.seed + 2):
        refuse_heldout_seed(s)
        if s in (VAL_SEED, VAL_SEED + 1, 4_500_000, 4_600_000):  # the segmenter's and the search's validation
            raise ConfigError(f"seed {s} is a validation seed; pick another --seed", field="seed")
    if a.n < 1 or a.steps < 1 or a.batch < 1 or a.eval_every < 1 or min(a.n_short, a.n_large, a.val_n) < 0:
        raise ConfigError(
            "need --n, --steps, --batch, --eval-every >= 1 and the other counts >= 0", field="n"
        )
    torch.set_num_threads(a.threads)
    from core.train.run_files import ProgressWriter, append_metrics

    run_dir = Path(a.run_dir) if a.run_dir else None
    if run_dir is not None:
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "metrics.jsonl").unlink(missing_ok=True)
    n_photos = a.n + a.n_short + a.n_large + a.val_n
    evals = -(-a.steps // a.eval_every)
    per_eval = max(1, n_photos // (2 * evals))  # the photos take about two thirds of the time
    prog = ProgressWriter(run_dir, n_photos + evals * per_eval, evals)
    offset = 0

    def tick(i: int) -> None:
        prog.update(offset + i, 0)

    def eval_done(row: dict[str, Any]) -> None:
        if run_dir is not None:
            append_metrics(run_dir / "metrics.jsonl", row)
        k = -(-int(row["step"]) // a.eval_every)
        prog.update(n_photos + k * per_eval, k, force=True)

    t0 = time.time()
    arch = HeadEndArch()
    try:
        loc = _pipeline_locator()
        parts = []
        for seed, n, mode, size in (
            (a.seed, a.n, "search", (512, 384)),
            (a.seed + 1, a.n_short, "short", (512, 384)),
            (a.seed + 2, a.n_large, "search", (1280, 960)),
        ):
            parts.append(collect(loc, seed, n, arch, mode, size, on_photo=tick))
            offset += n
        train = np.concatenate(parts)
        val = collect(loc, VAL_SEED, a.val_n, arch, on_photo=tick)
        offset = n_photos
        if len(train) == 0:
            raise ConfigError(
                f"the locator found no screw in the photos of seed {a.seed}; take more", field="n"
            )
        net, _, best = train_headend(
            train, val, arch, a.steps, a.batch, a.lr, a.eval_every, on_eval=eval_done
        )
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
            "photos": {"search_512": a.n, "short_512": a.n_short, "search_1280": a.n_large},
            "strips": int(len(train)),
            "val_seed": VAL_SEED,
            "val_photos": a.val_n,
            "val_strips": int(len(val)),
            "steps": a.steps,
            "chosen_step": best["step"],
            "val_loss": best["val_loss"],
            "val_accuracy": best["val_accuracy"],
            "wall_s": round(time.time() - t0, 1),
        },
    )
    prog.update(prog.total, evals, status="done", force=True)
    print(json.dumps({"out": a.out, **best, "strips": int(len(train)), "val_strips": int(len(val))}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
