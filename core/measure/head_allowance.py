"""Overall length of a screw from its catalog entry: nominal length + a head allowance per head type.

Catalogs give NOMINAL lengths: under the head for heads with a flat bearing face, overall for countersunk
heads. A photo shows the OVERALL length. Reading the head's height off a mask is fragile (an eye, a wing
or a T head has no clean bearing face; a short screw's head is a large share of it), so the search scores
the measured overall length against each SKU's expected overall length instead::

    overall_mm(SKU) = length_mm + allowance[head] * diameter_mm

``allowance`` (one number per head type, in shank diameters) is fitted on TRAINING photos with the
pipeline's own masks and coin scale (so it also absorbs the masks' bias at the head), as the median of
``(measured overall - nominal) / diameter`` over the screws of that head type::

    python -m core.measure.head_allowance --seed 152 --n 800      # -> models/measure/head_allowance.json

For your own catalog, run it on labelled photos of your screws, or write the JSON by hand from the
standards (e.g. a socket cap head is 1.0 d tall, a countersunk head 0).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from core.catalog.taxonomy import HEADS
from core.errors import CheckpointError, InputError

__all__ = [
    "fit_head_allowance",
    "load_head_allowance",
    "save_head_allowance",
    "expected_overall_mm",
    "nominal_from_overall",
    "default_path",
]


def default_path(models: str | Path | None = None) -> Path:
    """``<models>/measure/head_allowance.json`` (default: the project's models folder)."""
    from core.paths import models_dir

    return Path(models or models_dir()) / "measure" / "head_allowance.json"


def fit_head_allowance(
    overall_mm: Sequence[float] | NDArray[np.floating],
    nominal_mm: Sequence[float] | NDArray[np.floating],
    diameter_mm: Sequence[float] | NDArray[np.floating],
    head_idx: Sequence[int] | NDArray[np.integer],
    min_count: int = 5,
) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """Per head type, the median of ``(overall - nominal) / diameter`` (NaN measurements skipped).

    Head types with fewer than ``min_count`` screws get the median over all screws.

    Returns:
        (allowance (32,), screws per head type (32,)).
    """
    o, n, d = (np.asarray(v, np.float64) for v in (overall_mm, nominal_mm, diameter_mm))
    h = np.asarray(head_idx, np.int64)
    ok = np.isfinite(o) & np.isfinite(n) & np.isfinite(d) & (d > 0)
    ratio = (o[ok] - n[ok]) / d[ok]
    h = h[ok]
    fallback = float(np.median(ratio)) if ratio.size else 0.0
    out = np.full(len(HEADS), fallback, np.float64)
    counts = np.bincount(h, minlength=len(HEADS)).astype(np.int64)
    for k in range(len(HEADS)):
        if counts[k] >= min_count:
            out[k] = float(np.median(ratio[h == k]))
    return out, counts


def save_head_allowance(
    path: str | Path, allowance: NDArray[np.floating], counts: NDArray[np.integer], source: str
) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = {
        "about": "overall length = nominal length + allowance[head] x diameter (core.measure.head_allowance)",
        "source": source,
        "allowance": {h: round(float(a), 4) for h, a in zip(HEADS, allowance, strict=True)},
        "screws": {h: int(c) for h, c in zip(HEADS, counts, strict=True)},
    }
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(doc, indent=1) + "\n")
    tmp.replace(path)
    return path


def load_head_allowance(path: str | Path | None = None) -> NDArray[np.float64] | None:
    """The allowance per head type in taxonomy order, or None when there is no file.

    Raises:
        CheckpointError: the file exists but is not a head-allowance JSON (says how to rebuild it).
    """
    path = Path(path) if path is not None else default_path()
    if not path.is_file():
        return None
    fix = "rebuild it with `python -m core.measure.head_allowance` or delete it"
    try:
        table = json.loads(path.read_text())["allowance"]
        out = np.asarray([float(table[h]) for h in HEADS], np.float64)
    except (ValueError, KeyError, TypeError) as e:
        raise CheckpointError(f"{path} is not a head-allowance file ({e}); {fix}", path=path) from e
    if not np.all(np.isfinite(out)) or np.any(np.abs(out) > 20):
        raise CheckpointError(f"{path} holds allowances outside +-20 diameters; {fix}", path=path)
    return out


def expected_overall_mm(
    length_mm: NDArray[np.floating],
    diameter_mm: NDArray[np.floating],
    head_idx: NDArray[np.integer],
    allowance: NDArray[np.floating],
) -> NDArray[np.float64]:
    """Vectorised over a catalog: the overall length each SKU shows in a photo."""
    return np.asarray(length_mm, np.float64) + np.asarray(allowance, np.float64)[head_idx] * np.asarray(
        diameter_mm, np.float64
    )


def nominal_from_overall(
    overall: float,
    diameter: float,
    head_probs: NDArray[np.floating],
    allowance: Sequence[float] | NDArray[np.floating],
) -> tuple[float, float]:
    """The nominal length a measured overall length implies, given how likely each head type is.

    ``nominal = overall - E[allowance] * diameter`` with the expectation over ``head_probs`` (a head
    classifier's probabilities in taxonomy order), in the units of ``overall`` and ``diameter`` (px or mm).
    Reading the head's height off the mask instead fails on countersunk-or-not (a third of the screws at
    512x384 on validation); the classifier's doubt becomes an uncertainty instead.

    Returns:
        (nominal length, its std from the head types' spread: ``sd[allowance] * diameter``).

    Raises:
        InputError: ``head_probs`` and ``allowance`` differ in length, or the probabilities do not sum to a
            positive number.
    """
    p = np.asarray(head_probs, np.float64).ravel()
    a = np.asarray(allowance, np.float64).ravel()
    if p.shape != a.shape:
        raise InputError(
            f"{p.size} head probabilities for {a.size} head allowances; use the head classifier of this taxonomy",
            field="head_probs",
        )
    total = float(p.sum())
    if not np.isfinite(total) or total <= 0 or np.any(p < 0):
        raise InputError("head probabilities must be >= 0 with a positive sum", field="head_probs")
    w = p / total
    mean = float(w @ a)
    sd = float(np.sqrt(max(float(w @ (a - mean) ** 2), 0.0)))
    return float(overall) - mean * float(diameter), sd * float(diameter)


def measure_training_photos(seed: int, n: int) -> dict[str, NDArray[np.float64]]:
    """The pipeline's overall length of the true screw on ``n`` studio search photos of ``seed``."""
    import torch
    from tqdm import tqdm

    from core.catalog.taxonomy import index_of
    from core.errors import FvwError
    from core.locate import matching_screw
    from core.search.engine import default_engine
    from core.segment.data import polygon_mask
    from core.synth.dataset import render_index
    from core.synth.render import StudioConfig

    torch.set_num_threads(1)
    engine = default_engine()
    rows: list[tuple[float, float, float, int]] = []
    for i in tqdm(range(n), desc=f"head allowance, seed {seed}"):
        ph = render_index(engine.catalog, "search", seed, i, StudioConfig())
        if ph.sku is None or ph.screw_polygon is None:
            continue
        truth = polygon_mask(ph.screw_polygon, *ph.image.shape[:2])
        try:
            res = engine.locator.with_config(coin=ph.meta["coin"]["type"]).locate(ph.image)
        except FvwError:
            continue
        best = matching_screw(res.screws, truth) if res.coin is not None else None
        if best is None or best.cut_by_border or best.overall_length_mm is None:
            continue  # no scale, another object, a screw the segmenter lost, or a cut one: nothing to measure
        rows.append(
            (
                best.overall_length_mm,  # (in the coin's scale along the screw)
                ph.sku.length_mm,
                ph.sku.diameter_mm,
                index_of("head", ph.sku.head),
            )
        )
    a = np.asarray(rows, np.float64).reshape(-1, 4)
    return {"overall_mm": a[:, 0], "nominal_mm": a[:, 1], "diameter_mm": a[:, 2], "head_idx": a[:, 3]}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m core.measure.head_allowance", description=__doc__.split("\n")[0]
    )
    p.add_argument("--seed", type=int, default=152, help="training stream of studio search photos")
    p.add_argument("--n", type=int, default=800, help="photos to render")
    p.add_argument("--out", default=None, help="default: models/measure/head_allowance.json")
    a = p.parse_args(argv)
    m = measure_training_photos(a.seed, a.n)
    allowance, counts = fit_head_allowance(
        m["overall_mm"], m["nominal_mm"], m["diameter_mm"], m["head_idx"].astype(np.int64)
    )
    src = f"python -m core.measure.head_allowance --seed {a.seed} --n {a.n} ({len(m['overall_mm'])} screws measured)"
    path = save_head_allowance(a.out or default_path(), allowance, counts, src)
    for h, v, c in zip(HEADS, allowance, counts, strict=True):
        print(f"{h:16s} {v:+.2f} d  ({c} screws)")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
