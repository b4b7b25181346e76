"""Interactive labelling with the offline backend: clicks to IoU >= 0.9 and per-click latency (CPU).

The simulated user follows the standard NoC protocol (core/interactive/clicks.py) on studio photos
(core.synth, 1280x960, search mode: a screw and a coin per photo), against the renderer's exact
polygons. Figures: median clicks per object (max 20; an object never reaching 0.9 counts as 21) and
median predict latency per click after the photo's embedding. Two methods of the offline backend:
``cut`` (the default: local objectness + GrabCut) and ``walker`` (superpixel random walker, the
previous default), measured on the same photos; and the Label page's "segmenter" backend: the shipped
segmenter's probability as a proposal for ``cut`` (a click inside a proposed object seeds GrabCut with it).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from bench.harness import register_figures, register_timing

if TYPE_CHECKING:
    from core.interactive.superpixel import OfflineMethod

_N_PHOTOS = 50
_QUICK_PHOTOS = 5
_SEED = 7
_SEGMENTER = "segmenter/segmenter.safetensors"


def _objects(n: int):  # noqa: ANN202 - yields (image, {label: gt mask})
    import cv2
    import numpy as np

    from core.catalog import load_arrays
    from core.synth.dataset import render_index
    from core.synth.render import StudioConfig

    cfg = StudioConfig()
    arrays = load_arrays()
    for i in range(n):
        photo = render_index(arrays, "search", _SEED, i, cfg)
        h, w = photo.image.shape[:2]
        masks = {}
        for label, poly in (("screw", photo.screw_polygon), ("coin", photo.coin_polygon)):
            if poly is None:
                continue
            m = np.zeros((h, w), np.uint8)
            cv2.fillPoly(m, [np.round(poly).astype(np.int32)], 1)
            masks[label] = m.astype(bool)
        yield photo.image, masks


def _clicks(n: int, method: OfflineMethod | None = "cut") -> dict[str, float | str]:
    """NoC figures of the offline backend (``method``) or, with ``method=None``, of the shipped segmenter as a
    proposal for it (the Label page's "segmenter" backend)."""
    import torch

    prev_threads = torch.get_num_threads()
    torch.set_num_threads(1)  # per-click figures at one thread; restored below for the benches that follow
    try:
        return _clicks_at(n, method)
    finally:
        torch.set_num_threads(prev_threads)


def _clicks_at(n: int, method: OfflineMethod | None) -> dict[str, float | str]:
    import numpy as np

    from core.interactive import SuperpixelBackend, SuperpixelConfig, clicks_to_iou
    from core.interactive.base import MaskBackend

    backend: MaskBackend
    if method is None:
        from core.labelling.session import make_backend
        from core.paths import models_dir

        backend = make_backend("segmenter", checkpoint=models_dir() / _SEGMENTER, device="cpu")
    else:
        backend = SuperpixelBackend(SuperpixelConfig(method=method))
    clicks: dict[str, list[int]] = {"screw": [], "coin": []}
    first: dict[str, list[float]] = {"screw": [], "coin": []}
    ms: list[float] = []
    for image, masks in _objects(n):
        emb = backend.embed(image)
        for label, gt in masks.items():
            res = clicks_to_iou(backend, emb, gt, target=0.9, max_clicks=20)
            clicks[label].append(res.clicks)
            first[label].append(res.ious[0] if res.ious else 0.0)
            ms.extend(res.click_ms)
    every = clicks["screw"] + clicks["coin"]
    return {
        "photos": n,
        "objects": len(every),
        "median clicks (all)": float(np.median(every)),
        "median clicks (screw)": float(np.median(clicks["screw"])),
        "median clicks (coin)": float(np.median(clicks["coin"])) if clicks["coin"] else "n/a",
        "screws within 2 clicks": f"{sum(c <= 2 for c in clicks['screw'])}/{len(clicks['screw'])}",
        "median first-click IoU (screw)": round(float(np.median(first["screw"])), 3),
        "reached 0.9 within 20": f"{sum(c <= 20 for c in every)}/{len(every)}",
        "median ms/click": round(float(np.median(ms)), 1),
        "p90 ms/click": round(float(np.percentile(ms, 90)), 1),
    }


def _predict_setup() -> Callable[[], object]:
    from core.interactive import Prompt, SuperpixelBackend, next_click

    image, masks = next(_objects(1))
    backend = SuperpixelBackend()
    emb = backend.embed(image)
    gt = masks["screw"]
    click = next_click(gt & False, gt)
    assert click is not None
    prompt = Prompt().add(*click)
    return lambda: backend.predict(emb, prompt)


def _embed_setup() -> Callable[[], object]:
    from core.interactive import SuperpixelBackend

    image, _ = next(_objects(1))
    backend = SuperpixelBackend()
    return lambda: backend.embed(image)


register_figures(
    group="label",
    name=f"offline backend (cut), {_N_PHOTOS} studio photos, NoC@0.9",
    fn=lambda: _clicks(_N_PHOTOS),
    quick_fn=lambda: _clicks(_QUICK_PHOTOS),
)
register_figures(
    group="label",
    name=f"offline backend (walker), {_N_PHOTOS} studio photos, NoC@0.9",
    fn=lambda: _clicks(_N_PHOTOS, "walker"),
    quick_fn=lambda: _clicks(_QUICK_PHOTOS, "walker"),
)
register_figures(
    group="label",
    name=f"segmenter proposal ({_SEGMENTER}) + cut, {_N_PHOTOS} studio photos, NoC@0.9",
    fn=lambda: _clicks(_N_PHOTOS, None),
    quick_fn=lambda: _clicks(_QUICK_PHOTOS, None),
)
register_timing(group="label", name="embed 1280x960 (offline)", setup=_embed_setup, unit="photo", repeats=5)
register_timing(
    group="label", name="predict one click (offline)", setup=_predict_setup, unit="click", repeats=5
)
