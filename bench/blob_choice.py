"""Which screw blob the search should answer for when the segmenter finds several (``search`` ranks one).

``python -m bench.blob_choice --seed 4500000 --n 200`` runs the shipped locator on search photos of a
validation stream, records every screw blob (area, mean screw probability, elongation, IoU with the true
screw) and prints how often each selection rule picks the true screw. Validation streams only.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np


def collect(seed: int, n: int) -> list[list[dict[str, float]]]:
    import torch
    from tqdm import tqdm

    from core.errors import FvwError
    from core.pose.geometry import axis_from_mask
    from core.search.engine import default_engine
    from core.segment.data import polygon_mask
    from core.synth.dataset import render_index
    from core.synth.render import StudioConfig

    torch.set_num_threads(1)
    engine = default_engine()
    out: list[list[dict[str, float]]] = []
    for i in tqdm(range(n), desc=f"blobs, seed {seed}"):
        ph = render_index(engine.catalog, "search", seed, i, StudioConfig())
        truth = polygon_mask(ph.screw_polygon, *ph.image.shape[:2])
        try:
            res = engine.locator.locate(ph.image)
        except FvwError:
            out.append([])
            continue
        blobs = []
        for s in res.screws:
            ax = axis_from_mask(s.mask)
            inter = float((s.mask & truth).sum())
            blobs.append(
                {
                    "area": float(s.mask.sum()),
                    "mean_prob": float(s.mask_confidence),
                    "aspect": float(ax.aspect),
                    "iou": inter / max(float((s.mask | truth).sum()), 1.0),
                    # the blob verifier's score (1 when none is shipped): since session 15
                    "verify": 1.0 if s.verify_score is None else float(s.verify_score),
                }
            )
        out.append(blobs)
    return out


RULES = {
    "mean probability (until session 6)": lambda b: b["mean_prob"],
    "area": lambda b: b["area"],
    "mean probability x area": lambda b: b["mean_prob"] * b["area"],
    "mean probability x sqrt(area)": lambda b: b["mean_prob"] * np.sqrt(b["area"]),
    "mean probability^4 x area": lambda b: b["mean_prob"] ** 4 * b["area"],
    "mean probability^8 x area (shipped since session 15)": lambda b: b["mean_prob"] ** 8 * b["area"],
    "mean probability^16 x sqrt(area) (shipped sessions 6-14)": lambda b: (
        b["mean_prob"] ** 16 * np.sqrt(b["area"])
    ),
    # session 15: the verifier's score too (blob files of earlier sessions have none: 1)
    "mean probability^16 x sqrt(area) x verifier": lambda b: (
        b["mean_prob"] ** 16 * np.sqrt(b["area"]) * b.get("verify", 1.0)
    ),
    "mean probability^16 x sqrt(area) x verifier^4": lambda b: (
        b["mean_prob"] ** 16 * np.sqrt(b["area"]) * b.get("verify", 1.0) ** 4
    ),
    "mean probability^8 x sqrt(area) x verifier^4": lambda b: (
        b["mean_prob"] ** 8 * np.sqrt(b["area"]) * b.get("verify", 1.0) ** 4
    ),
}


def report(photos: list[list[dict[str, float]]]) -> None:
    n = len(photos)
    multi = sum(len(p) > 1 for p in photos)
    present = sum(any(b["iou"] >= 0.5 for b in p) for p in photos)
    print(f"{n} photos, {multi} with several blobs, true screw among the blobs in {present}")
    print("| rule | true screw picked | of the photos with several blobs |")
    print("|---|---|---|")
    for name, key in RULES.items():
        hit = multi_hit = 0
        for p in photos:
            if not p:
                continue
            ok = max(p, key=key)["iou"] >= 0.5
            hit += ok
            multi_hit += ok and len(p) > 1
        print(f"| {name} | {hit} / {present} | {multi_hit} / {multi} |")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.blob_choice", description=__doc__.split("\n")[0])
    p.add_argument("--seed", type=int, default=4_500_000)
    p.add_argument("--n", type=int, default=200)
    p.add_argument("--cache", nargs="*", default=[], help="blob files written before (skip the pipeline)")
    a = p.parse_args(argv)
    if a.cache:
        photos = [ph for f in a.cache for ph in json.loads(Path(f).read_text())]
    else:
        if a.seed == 4_000_000:
            p.error("seed 4,000,000 is the bench's held-out stream: choose on another seed")
        photos = collect(a.seed, a.n)
        path = Path("runs/ranking-study") / f"blobs-{a.seed}-n{a.n}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(photos))
        print(path)
    report(photos)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
