"""Train the blob verifier (:mod:`core.segment.verify`) on the segmenter's own blobs of studio photos.

Two steps, so that several collections can run side by side on a small machine::

    python -m core.segment.train_verifier collect --mode search --seed 81 --n 2000 --out runs/verifier/s81.npz
    python -m core.segment.train_verifier train --data runs/verifier/s81.npz ... --val runs/verifier/val.npz \\
        --out models/segmenter/verifier.safetensors

``collect`` runs the locator's segmentation (segmenter + GrabCut edges, :meth:`core.locate.Locator.screw_blobs`)
on studio photos and labels each screw blob by the truth: a screw when at least half of its pixels lie on the
true screw. ``--refine-zoom 1.6 --width 1280 --height 960`` gives the search engine's blobs. ``train`` fits the
verifier (flips as augmentation: the head side is unknown) and prints validation figures per epoch; the epoch
with the lowest validation loss is saved.
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

from core.errors import ConfigError, DatasetError
from core.segment.data import add_blob_collect_args, grabcut_from_args, refuse_heldout_seed
from core.segment.verify import arch_dict, create_verifier, verifier_input

__all__ = ["collect", "train_verifier", "blob_metrics", "run_all", "main"]


def collect(
    mode: str,
    seed: int,
    n: int,
    width: int = 512,
    height: int = 384,
    refine_zoom: float = 1.0,
    segmenter: str | None = None,
    arch: tuple[int, int] = (32, 96),
    progress: bool = True,
    grabcut: Any | None = None,
    on_photo: Callable[[int], None] | None = None,
    edgenet: str | None = None,
) -> dict[str, NDArray]:
    """Verifier samples of ``n`` studio photos (``mode`` / dataset ``seed``), one per screw blob.

    ``edgenet``: an EdgeNet file that redraws each blob first, as the locator does before its verifier scores
    it (the shipped verifier since session 17); None: GrabCut's blobs, as the verifiers before it.

    Returns:
        ``x`` (N, 5, h, w) float16 windows, ``s`` (N, 3) scalars, ``y`` (N,) 1 = screw, ``frac`` (N,) share
        of the blob on the true screw, ``photo`` (N,) photo index.
    """
    from core.segment.data import locator_blobs, polygon_mask

    xs, ss, ys, fr, ph = [], [], [], [], []
    for i, photo, seg in locator_blobs(
        mode,
        seed,
        n,
        width,
        height,
        refine_zoom,
        segmenter,
        desc="blobs",
        progress=progress,
        grabcut=grabcut,
        edgenet=edgenet,
    ):
        if on_photo is not None:
            on_photo(i)
        img = photo.image
        blobs = seg.instances.get("screw", [])
        if not blobs:
            continue
        truth = polygon_mask(photo.screw_polygon, img.shape[0], img.shape[1])
        prob = seg.probs[seg.classes.index("screw")]
        for m in blobs:
            x, s = verifier_input(img, prob, m, *arch)
            f = float((m & truth).sum()) / max(float(m.sum()), 1.0)
            xs.append(x.astype(np.float16))
            ss.append(s)
            ys.append(f >= 0.5)
            fr.append(f)
            ph.append(i)
    if not xs:
        raise DatasetError(f"no screw blobs in {n} photos of {mode} seed {seed}; is the segmenter trained?")
    return {
        "x": np.stack(xs),
        "s": np.stack(ss),
        "y": np.array(ys, np.float32),
        "frac": np.array(fr, np.float32),
        "photo": np.array(ph, np.int32),
    }


def _load(paths: list[str]) -> dict[str, NDArray]:
    parts = []
    for p in paths:
        try:
            with np.load(p) as z:
                parts.append({k: z[k] for k in ("x", "s", "y")})
        except (OSError, KeyError, ValueError) as e:
            raise DatasetError(
                f"{p} is not a verifier sample file ({e}); make one with `python -m core.segment.train_verifier "
                "collect`"
            ) from e
    return {k: np.concatenate([d[k] for d in parts]) for k in ("x", "s", "y")}


def blob_metrics(p: NDArray, y: NDArray, threshold: float = 0.5) -> dict[str, float]:
    """Accuracy, screw recall (true screws kept), clutter rejected and ROC AUC of blob probabilities ``p``."""
    keep = p >= threshold
    pos, neg = y > 0.5, y <= 0.5
    order = np.argsort(p)
    ranks = np.empty(len(p))
    ranks[order] = np.arange(1, len(p) + 1)
    npos, nneg = int(pos.sum()), int(neg.sum())
    auc = (ranks[pos].sum() - npos * (npos + 1) / 2) / max(npos * nneg, 1)
    return {
        "accuracy": float((keep == pos).mean()),
        "screws_kept": float(keep[pos].mean()) if npos else float("nan"),
        "clutter_rejected": float((~keep[neg]).mean()) if nneg else float("nan"),
        "auc": float(auc),
        "n_screw": npos,
        "n_clutter": nneg,
    }


def _predict(model: torch.nn.Module, x: NDArray, s: NDArray, batch: int = 512) -> NDArray:
    out = []
    model.eval()
    with torch.inference_mode():
        for i in range(0, len(x), batch):
            xb = torch.from_numpy(x[i : i + batch].astype(np.float32))
            sb = torch.from_numpy(s[i : i + batch])
            out.append(torch.sigmoid(model(xb, sb)).numpy())
    return np.concatenate(out)


def train_verifier(
    train: dict[str, NDArray],
    val: dict[str, NDArray] | None,
    epochs: int = 30,
    batch: int = 64,
    lr: float = 2e-3,
    seed: int = 0,
    channels: int = 24,
    progress: bool = True,
    on_epoch: Callable[[dict[str, float]], None] | None = None,
) -> tuple[torch.nn.Module, list[dict[str, float]]]:
    """Fit a verifier; returns the epoch with the lowest validation loss (the last without ``val``) and the
    per-epoch log."""
    import copy

    from tqdm import tqdm

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    _, _, hh, ww = train["x"].shape
    model = create_verifier(hh, ww, channels)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    n = len(train["y"])
    steps = epochs * max(n // batch, 1)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps)
    # Balance the classes: clutter blobs are the minority.
    pos = float(train["y"].mean())
    pos_weight = torch.tensor((1.0 - pos) / max(pos, 1e-6))
    loss_fn = torch.nn.BCEWithLogitsLoss(pos_weight=pos_weight)
    log: list[dict[str, float]] = []
    best, best_loss = copy.deepcopy(model.state_dict()), float("inf")
    for ep in tqdm(range(epochs), desc="verifier epochs", disable=not progress):
        model.train()
        perm = rng.permutation(n)
        total = 0.0
        for i in range(0, n - batch + 1, batch):
            idx = perm[i : i + batch]
            x = torch.from_numpy(train["x"][idx].astype(np.float32))
            if rng.random() < 0.5:
                x = x.flip(3)
            if rng.random() < 0.5:
                x = x.flip(2)
            x[:, :3] = (x[:, :3] * float(rng.uniform(0.8, 1.2))).clamp(0, 1)
            s = torch.from_numpy(train["s"][idx])
            y = torch.from_numpy(train["y"][idx])
            loss = loss_fn(model(x, s), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += float(loss.detach()) * len(idx)
        row = {"epoch": ep + 1, "train_loss": total / n}
        if val is not None:
            p = _predict(model, val["x"], val["s"])
            pc = np.clip(p, 1e-6, 1 - 1e-6)
            vy = val["y"]
            vloss = float(-(vy * np.log(pc) + (1 - vy) * np.log(1 - pc)).mean())
            row.update({"val_loss": vloss, **blob_metrics(p, vy)})
            if vloss < best_loss:
                best, best_loss = copy.deepcopy(model.state_dict()), vloss
        else:
            best = copy.deepcopy(model.state_dict())
        log.append(row)
        if on_epoch is not None:
            on_epoch(row)
        if progress:
            tqdm.write(json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in row.items()}))
    model.load_state_dict(best)
    return model.eval(), log


def _save(
    out: str | Path, model: torch.nn.Module, log: list[dict[str, float]], meta: dict[str, object]
) -> dict:
    from core.checkpoints import save_checkpoint

    has_val = bool(log) and "val_loss" in log[0]
    final = log[int(np.argmin([r["val_loss"] for r in log]))] if has_val else log[-1]
    save_checkpoint(
        out,
        model,
        arch=arch_dict(model.arch),  # type: ignore[arg-type]
        meta={
            **meta,
            "chosen_epoch": final["epoch"],
            "val_figures": {k: v for k, v in final.items() if k != "epoch"},
        },
    )
    return final


def run_all(
    run_dir: str | Path,
    photos: int = 300,
    short: int = 100,
    val_photos: int = 60,
    epochs: int = 10,
    seed: int = 81,
    edgenet: str | None = "shipped",
) -> dict:
    """Collect and train in one process, as a workbench job: ``photos`` search + ``short`` short-screw photos
    (dataset seeds ``seed`` / ``seed + 1``), validation on ``val_photos`` photos of the validation seed;
    writes ``verifier.safetensors``, ``progress.json`` and ``metrics.jsonl`` into ``run_dir``. ``edgenet``: as
    ``collect --edgenet`` (default: the blobs redrawn by the shipped EdgeNet, as the locator scores them)."""
    from core.segment.data import VAL_SEED
    from core.train.run_files import ProgressWriter, append_metrics

    edge = _edgenet_file(edgenet)  # a bad name fails here, before the run folder is written
    out = Path(run_dir)
    out.mkdir(parents=True, exist_ok=True)
    n_photos = photos + short + val_photos
    per_epoch = max(1, n_photos // max(epochs, 1))  # collecting and training weigh about the same
    prog = ProgressWriter(out, n_photos + epochs * per_epoch, epochs)
    offset = 0

    def tick(i: int) -> None:
        prog.update(offset + i, 0)

    try:
        parts = []
        for mode, sd, n in (("search", seed, photos), ("short", seed + 1, short)):
            if n > 0:
                parts.append(collect(mode, sd, n, progress=False, on_photo=tick, edgenet=edge))
            offset += n
        val = (
            collect("search", VAL_SEED, val_photos, progress=False, on_photo=tick, edgenet=edge)
            if val_photos
            else None
        )
        offset += val_photos
        train = {k: np.concatenate([d[k] for d in parts]) for k in ("x", "s", "y")}
        (out / "metrics.jsonl").unlink(missing_ok=True)

        def epoch_done(row: dict[str, float]) -> None:
            append_metrics(out / "metrics.jsonl", row)
            prog.update(n_photos + int(row["epoch"]) * per_epoch, int(row["epoch"]), force=True)

        model, log = train_verifier(train, val, epochs, progress=False, on_epoch=epoch_done)
        final = _save(
            out / "verifier.safetensors",
            model,
            log,
            {
                "photos": photos,
                "short": short,
                "val_photos": val_photos,
                "seed": seed,
                "epochs": epochs,
                "edgenet": edge,
            },
        )
    except Exception as e:
        prog.update(offset, 0, status="failed", error=str(e), force=True)
        raise
    prog.update(prog.total, epochs, status="done", force=True)
    return final


def main(argv: list[str] | None = None) -> int:
    """The command line; a bad argument or missing file is a one-line error (exit 2), not a traceback."""
    from core.errors import cli_exit

    return cli_exit(_main, argv)


def _edgenet_file(name: str | None) -> str | None:
    """An ``--edgenet`` value as a file: 'none' -> None (GrabCut's blobs), 'shipped' -> the shipped EdgeNet (None
    when it is absent, as the locator then has none), else a file that must exist (ConfigError)."""
    if name is None or name == "none":
        return None
    if name == "shipped":
        from core.paths import models_dir
        from core.segment.edgenet import EDGENET_FILE

        shipped = models_dir().joinpath(*EDGENET_FILE)
        return str(shipped) if shipped.is_file() else None
    if not Path(name).is_file():
        raise ConfigError(
            f"--edgenet {name}: no such file; give an EdgeNet file, 'shipped' or 'none'", field="edgenet"
        )
    return name


def _main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m core.segment.train_verifier")
    sub = p.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("collect", help="segment studio photos and save one labelled sample per screw blob")
    add_blob_collect_args(c)
    c.add_argument(
        "--edgenet",
        default="shipped",
        help="EdgeNet file that redraws each blob first, as the locator does before its verifier scores it "
        "(default 'shipped': models/segmenter/edgenet.safetensors when present; 'none': GrabCut's blobs, what "
        "the verifiers up to session 16 were trained on)",
    )
    t = sub.add_parser("train", help="fit the verifier on collected samples")
    t.add_argument("--data", nargs="+", required=True)
    t.add_argument("--val", nargs="*", default=[])
    t.add_argument("--epochs", type=int, default=30)
    t.add_argument("--batch", type=int, default=64)
    t.add_argument("--lr", type=float, default=2e-3)
    t.add_argument("--channels", type=int, default=24)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--threads", type=int, default=1)
    t.add_argument("--out", required=True)
    r = sub.add_parser("run", help="collect and train in one go (the workbench's job), with progress.json")
    r.add_argument(
        "--out-dir", required=True, help="run folder: verifier.safetensors, progress.json, metrics.jsonl"
    )
    r.add_argument("--photos", type=int, default=300, help="search photos (dataset seed --seed)")
    r.add_argument("--short", type=int, default=100, help="short-screw photos (dataset seed --seed + 1)")
    r.add_argument("--val-photos", type=int, default=60, help="validation search photos (validation seed)")
    r.add_argument("--epochs", type=int, default=10)
    r.add_argument("--seed", type=int, default=81)
    r.add_argument("--threads", type=int, default=1)
    r.add_argument("--edgenet", default="shipped", help="as collect's --edgenet")
    a = p.parse_args(argv)
    torch.set_num_threads(getattr(a, "threads", 1))
    if a.cmd == "collect":
        refuse_heldout_seed(a.seed)
        t0 = time.time()
        d = collect(
            a.mode,
            a.seed,
            a.n,
            a.width,
            a.height,
            a.refine_zoom,
            a.segmenter,
            grabcut=grabcut_from_args(a),
            edgenet=_edgenet_file(a.edgenet),
        )
        Path(a.out).parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(a.out, **d)  # type: ignore[arg-type]
        print(
            f"{len(d['y'])} blobs ({int(d['y'].sum())} screws) from {a.n} photos in {time.time() - t0:.0f} s "
            f"-> {a.out}"
        )
        return 0
    if a.cmd == "run":
        if min(a.photos, a.short, a.val_photos) < 0 or a.photos + a.short < 1 or a.epochs < 1:
            raise ConfigError(
                "--photos / --short must give at least one photo and --epochs >= 1", field="photos"
            )
        final = run_all(a.out_dir, a.photos, a.short, a.val_photos, a.epochs, a.seed, a.edgenet)
        print(json.dumps({"out": str(Path(a.out_dir) / "verifier.safetensors"), **final}))
        return 0
    train = _load(a.data)
    val = _load(a.val) if a.val else None
    model, log = train_verifier(train, val, a.epochs, a.batch, a.lr, a.seed, a.channels)
    meta = {
        "data": [str(x) for x in a.data],
        "val": [str(x) for x in a.val],
        "epochs": a.epochs,
        "n_train": len(train["y"]),
    }
    final = _save(a.out, model, log, meta)
    print(json.dumps({"out": a.out, **final}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
