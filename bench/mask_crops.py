"""How the mask a crop is cut from moves head / tip accuracy (the study behind ``LocateConfig.refine_edges``).

``python -m bench.mask_crops --start 250 --n 400`` renders studio ``train`` photos of the validation crop seed
(200; 960x720), runs the shipped locator on each, and scores the shipped head and tip models on crops cut
from: the exact mask, the exact mask dilated 1 / 2 px and eroded 1 px (with the renderer's head direction),
the segmenter's mask, and that mask refined with GrabCut (both with the pipeline's head direction). Prints a
markdown table: mask IoU with the truth, head and tip accuracy, median refinement time. Validation seed
only: settings are chosen here, never on held-out seeds. ~1 s a photo on one core.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

import numpy as np


def run(
    start: int, n: int, seed: int = 200, overrides: dict[str, float] | None = None
) -> list[dict[str, float | str]]:
    import cv2
    import torch
    from tqdm import tqdm

    from core.attributes.data import _polygon_mask, crops_from_mask
    from core.attributes.train import load_attribute_model, to_tensor
    from core.catalog.catalog import load_arrays
    from core.catalog.taxonomy import index_of
    from core.errors import NoScrewFoundError
    from core.locate import Locator
    from core.paths import models_dir
    from core.segment.predictor import SEARCH_REFINE_ZOOM
    from core.segment.refine import grabcut_refine
    from core.synth.dataset import render_index
    from core.synth.render import StudioConfig

    md = models_dir()
    loc = Locator.from_files(
        md / "segmenter" / "segmenter.safetensors",
        md / "rotationnet" / "rotationnet.safetensors",
        threads=1,
        refine_zoom=SEARCH_REFINE_ZOOM,
    )
    gc_cfg = replace(loc.config.grabcut, **(overrides or {}))
    loc.config = replace(loc.config, refine_edges=False)  # the raw blobs; refined here to time it
    models = {a: load_attribute_model(md / "attributes" / f"{a}.safetensors")[0] for a in ("head", "tip")}
    k3 = np.ones((3, 3), np.uint8)
    names = ["exact", "exact dilated 1 px", "exact dilated 2 px", "exact eroded 1 px", "segmenter", "GrabCut"]
    xs: dict[str, dict[str, list[np.ndarray]]] = {v: {"head": [], "tip": []} for v in names}
    ys: dict[str, list[int]] = {"head": [], "tip": []}
    inter = dict.fromkeys(names, 0.0)
    union = dict.fromkeys(names, 0.0)
    ms_gc: list[float] = []
    arrays, cfg = load_arrays(), StudioConfig(width=960, height=720)
    for i in tqdm(range(start, start + n), desc="mask crops"):
        ph = render_index(arrays, "train", seed, i, cfg)
        if ph.sku is None or ph.screw_polygon is None:
            continue
        img = ph.image
        truth = _polygon_mask(ph.screw_polygon, *img.shape[:2])
        try:
            res = loc.locate(img)
        except NoScrewFoundError:
            continue
        best = max(
            res.screws, key=lambda s: float((s.mask & truth).sum()) / max(1.0, float((s.mask | truth).sum()))
        )
        if (best.mask & truth).sum() < 0.5 * (best.mask | truth).sum():
            continue  # the segmenter missed this screw
        prob = res.segmentation.probs[res.segmentation.classes.index("screw")]
        t = time.perf_counter()
        gc = grabcut_refine(img, prob, best.mask, gc_cfg)
        ms_gc.append(1000 * (time.perf_counter() - t))
        u8 = truth.astype(np.uint8)
        masks = {
            "exact": truth,
            "exact dilated 1 px": cv2.dilate(u8, k3) > 0,
            "exact dilated 2 px": cv2.dilate(u8, k3, iterations=2) > 0,
            "exact eroded 1 px": cv2.erode(u8, k3) > 0,
            "segmenter": best.mask,
            "GrabCut": gc,
        }
        true_angle = float(ph.meta["angle_deg"])
        try:
            crops = {
                v: crops_from_mask(img, m, true_angle if v.startswith("exact") else best.angle_deg)[0]
                for v, m in masks.items()
            }
        except NoScrewFoundError:
            continue
        for v, m in masks.items():
            inter[v] += float((m & truth).sum())
            union[v] += float((m | truth).sum())
            for a in ("head", "tip"):
                xs[v][a].append(getattr(crops[v], a))
        for a in ("head", "tip"):
            ys[a].append(index_of(a, ph.sku.attributes()[a]))
    rows: list[dict[str, float | str]] = []
    with torch.inference_mode():
        for v in names:
            row: dict[str, float | str] = {
                "mask": v,
                "n": float(len(ys["head"])),
                "IoU": inter[v] / max(union[v], 1),
            }
            for a in ("head", "tip"):
                pred = models[a](to_tensor(np.stack(xs[v][a]))).argmax(1).numpy()
                row[a] = float(np.mean(pred == np.asarray(ys[a])))
            rows.append(row)
    rows[-1]["ms"] = float(np.median(ms_gc)) if ms_gc else float("nan")
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.mask_crops", description=__doc__.split("\n")[0])
    p.add_argument("--start", type=int, default=250, help="first photo index of the seed stream")
    p.add_argument("--n", type=int, default=400, help="photos to render")
    p.add_argument("--seed", type=int, default=200, help="crop seed stream (200 = validation)")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="a GrabCutConfig field, e.g. iterations=1",
    )
    a = p.parse_args(argv)
    overrides: dict[str, float] = {}
    for kv in a.set:
        k, sep, v = kv.partition("=")
        try:
            overrides[k] = int(v) if k in ("iterations", "pad", "sure_erode") else float(v)
        except ValueError:
            sep = ""
        from core.segment.refine import GrabCutConfig

        if not sep or k not in GrabCutConfig.__dataclass_fields__:
            p.error(
                f"--set takes FIELD=NUMBER with a GrabCutConfig field ({', '.join(GrabCutConfig.__dataclass_fields__)}), got {kv!r}"
            )
    import torch

    torch.set_num_threads(1)
    rows = run(a.start, a.n, a.seed, overrides)
    print(
        f"seed {a.seed}, photos {a.start}-{a.start + a.n - 1}, screws scored: {int(rows[0]['n'])}, GrabCut {overrides or 'defaults'}"
    )
    print("| crops cut from | mask IoU | head | tip | refinement ms / screw |")
    print("|---|---|---|---|---|")
    for r in rows:
        ms = f"{r['ms']:.0f}" if "ms" in r else "-"
        print(f"| {r['mask']} | {r['IoU']:.3f} | {r['head']:.3f} | {r['tip']:.3f} | {ms} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
