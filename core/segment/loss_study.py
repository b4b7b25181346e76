"""Loss study: soft Dice vs Tversky (alpha, beta) = (0.5, 0.5), (0.3, 0.7), (0.1, 0.9) on the same data.

``python -m core.segment.loss_study --out runs/loss-study [--epochs 4 --max-batches 40 --n-train 400]``

Every variant trains the same segmenter from the same seed on the same studio photos for the same number of
batches (the recipe of :mod:`core.segment.train`, smaller), then is scored on held-out studio photos (pooled
pixel IoU, precision, recall per class at the photo's full size). ``dice`` is the plain soft Dice loss; the three
Tversky rows add the masked BCE term of the shipped recipe (``alpha`` weighs false positives, ``beta`` false
negatives; Tversky 0.5/0.5 + BCE vs plain Dice isolates the BCE term). Writes ``<out>/loss_study.md`` and
``<out>/loss_study.json``.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path

import numpy as np

from core.errors import ConfigError
from core.segment.data import HELDOUT_SEED, studio_masks
from core.segment.train import SegTrainOptions

__all__ = ["VARIANTS", "pixel_figures", "run_study", "markdown_table", "main"]

#: name -> (loss, alpha, beta, bce_weight)
VARIANTS: dict[str, tuple[str, float, float, float]] = {
    "dice": ("dice", 0.5, 0.5, 0.0),
    "tversky 0.5/0.5 + bce": ("tversky", 0.5, 0.5, 0.5),
    "tversky 0.3/0.7 + bce": ("tversky", 0.3, 0.7, 0.5),
    "tversky 0.1/0.9 + bce": ("tversky", 0.1, 0.9, 0.5),
}


def pixel_figures(
    segmenter: object, n: int, seed: int = HELDOUT_SEED, width: int = 512, height: int = 384
) -> dict[str, float]:
    """Pooled pixel IoU / precision / recall per class of a :class:`Segmenter` on held-out search photos."""
    from core.segment.evaluate import heldout_photos

    acc = {c: np.zeros(3) for c in ("screw", "coin")}  # intersection, predicted, true
    for photo in heldout_photos(n, "search", seed, width, height):
        seg = segmenter.predict(photo.image)  # type: ignore[attr-defined]
        for c, gt in zip(("screw", "coin"), studio_masks(photo), strict=True):
            p = seg.mask(c)
            acc[c] += [(p & gt).sum(), p.sum(), gt.sum()]
    out: dict[str, float] = {}
    for c, (ni, npred, ntrue) in acc.items():
        out[f"iou_{c}"] = float(ni / max(npred + ntrue - ni, 1))
        out[f"precision_{c}"] = float(ni / max(npred, 1))
        out[f"recall_{c}"] = float(ni / max(ntrue, 1))
    return out


def markdown_table(rows: dict[str, dict[str, float]], note: str = "") -> str:
    """One row per loss: IoU, precision, recall for screw and coin."""
    cols = [f"{m}_{c}" for c in ("screw", "coin") for m in ("iou", "precision", "recall")]
    head = "| loss | " + " | ".join(c.replace("_", " ") for c in cols) + " |"
    lines = [head, "|" + "---|" * (len(cols) + 1)]
    for name, r in rows.items():
        lines.append(f"| {name} | " + " | ".join(f"{r.get(c, float('nan')):.3f}" for c in cols) + " |")
    return "\n".join(lines) + ("\n\n" + note if note else "") + "\n"


def run_study(
    out: Path,
    base: SegTrainOptions,
    epochs: int,
    max_batches: int,
    lr: float = 3e-3,
    n_eval: int = 30,
    infer_size: int = 256,
    variants: tuple[str, ...] = tuple(VARIANTS),
) -> dict[str, dict[str, float]]:
    """Train each variant with the same data, seed and budget; return held-out figures per variant.

    Raises:
        ConfigError: an unknown variant name (the message lists the valid ones).
    """
    from core.segment.model import load_segmenter
    from core.segment.predictor import Segmenter
    from core.segment.train import run
    from core.train import TrainConfig

    for v in variants:
        if v not in VARIANTS:
            raise ConfigError(f"unknown variant {v!r}; valid: {', '.join(VARIANTS)}", field="variants")
    rows: dict[str, dict[str, float]] = {}
    for v in variants:
        loss, alpha, beta, bce = VARIANTS[v]
        slug = v.replace(" ", "_").replace("/", "-").replace("+", "")
        ckpt = out / f"{slug}.safetensors"
        opt = replace(base, loss=loss, alpha=alpha, beta=beta, bce_weight=bce, export=str(ckpt))
        cfg = TrainConfig(
            epochs=epochs,
            lr=lr,
            weight_decay=1e-4,
            seed=0,
            device="cpu",
            out_dir=str(out / "runs" / slug),
            resume=False,
            progress=False,
            max_batches_per_epoch=max_batches,
        )
        run(cfg, opt)
        seg = Segmenter(load_segmenter(ckpt), infer_size=infer_size)
        rows[v] = pixel_figures(seg, n_eval)
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m core.segment.loss_study")
    p.add_argument("--out", required=True, help="folder for the table, the runs and the checkpoints")
    p.add_argument("--epochs", type=int, default=4)
    p.add_argument("--max-batches", type=int, default=40, help="batches per epoch")
    p.add_argument("--n-train", type=int, default=400)
    p.add_argument("--n-eval", type=int, default=30, help="held-out photos scored")
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--crop", type=int, default=160)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--variants", default=",".join(VARIANTS), help="comma-separated subset of the variants")
    a = p.parse_args(argv)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    base = SegTrainOptions(n_train=a.n_train, n_val=16, size=a.size, crop=a.crop, threads=a.threads)
    variants = tuple(s.strip() for s in a.variants.split(",") if s.strip())
    rows = run_study(
        out, base, a.epochs, a.max_batches, n_eval=a.n_eval, infer_size=a.size, variants=variants
    )
    note = (
        f"Budget: {a.epochs} epochs x {a.max_batches} batches of 8 ({a.crop} px crops of {a.size} px studio "
        f"photos, {a.n_train} training photos), seed 0; scored on {a.n_eval} held-out 512x384 search photos."
    )
    (out / "loss_study.json").write_text(json.dumps(rows, indent=2), encoding="utf-8")
    table = markdown_table(rows, note)
    (out / "loss_study.md").write_text(table, encoding="utf-8")
    print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
