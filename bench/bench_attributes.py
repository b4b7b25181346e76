"""Attribute accuracy on held-out crops and SKU ranking on held-out studio photos (issue: identify and rank).

Held-out data never touched in training or model selection: crops from seed stream 300
(``python -m core.attributes crops --n 550 --seed 300 --out runs/attributes/crops-test.npz``), photos from
seed stream 4,000,000+. Training used stream 100, epoch selection stream 200.
"""

from __future__ import annotations

from bench.harness import register_figures, register_timing

_TEST = "runs/attributes/crops-test.npz"


def _accuracy(path_model: str, attribute: str, test: str = _TEST) -> float:
    import numpy as np
    import torch

    from core.attributes.data import load_crop_arrays
    from core.attributes.train import load_attribute_model, to_tensor

    d = load_crop_arrays(test)
    model, _ = load_attribute_model(path_model)
    x, y = d[attribute], d[f"y_{attribute}"]
    preds = []
    with torch.inference_mode():
        for i in range(0, len(y), 256):
            preds.append(model(to_tensor(x[i : i + 256])).argmax(1).numpy())
    return float((np.concatenate(preds) == y).mean())


def _attribute_figures() -> dict[str, float | str]:
    from core.paths import models_dir

    root = models_dir() / "attributes"
    out: dict[str, float | str] = {}
    for a in ("head", "tip", "thread", "finish"):
        p = root / f"{a}.safetensors"
        out[f"{a} acc"] = round(_accuracy(str(p), a), 4) if p.is_file() else "no model"
    plain = root / "finish_plain.safetensors"
    out["finish plain acc"] = round(_accuracy(str(plain), "finish"), 4) if plain.is_file() else "no model"
    return out


def _ranking(n: int, oracle: bool) -> dict[str, float | str]:
    """SKU top-1 / top-5 over the 15,000-SKU catalog on n held-out studio photos."""
    import cv2
    import numpy as np

    from core.catalog.catalog import load_arrays
    from core.errors import FvwError
    from core.locate import LocateConfig, Locator
    from core.search.engine import default_engine
    from core.segment.predictor import Segmentation
    from core.synth.dataset import render_index
    from core.synth.render import StudioConfig

    arrays = load_arrays()
    engine = default_engine()
    real_locator = engine.locator
    top1 = top5 = done = failed = 0
    for i in range(n):
        photo = render_index(arrays, "search", 4_000_000, i, StudioConfig())
        if oracle:
            h, w = photo.image.shape[:2]
            masks = []
            for poly in (photo.screw_polygon, photo.coin_polygon):
                m = np.zeros((h, w), np.uint8)
                if poly is not None:
                    cv2.fillPoly(m, [np.round(poly).astype(np.int32)], 1)
                masks.append(m.astype(bool))

            class _Oracle:
                def predict(self, image, _m=masks):
                    inst = {"screw": [_m[0]] if _m[0].any() else [], "coin": [_m[1]] if _m[1].any() else []}
                    return Segmentation(np.stack(_m).astype(np.float32), ("screw", "coin"), inst)

            engine.locator = Locator(_Oracle(), real_locator.rotationnet, LocateConfig())
        try:
            res = engine.search(photo.image, coin=photo.meta["coin"]["type"], k=5)
        except FvwError:
            failed += 1
            continue
        ids = [m.sku for m in res.matches]
        assert photo.sku is not None
        top1 += ids[0] == photo.sku.id
        top5 += photo.sku.id in ids
        done += 1
    engine.locator = real_locator
    return {
        "photos": n,
        "no answer": failed,
        "SKU top-1": round(top1 / n, 4),
        "SKU top-5": round(top5 / n, 4),
    }


def _e2e_setup():
    from core.catalog.catalog import load_arrays
    from core.search.engine import default_engine
    from core.synth.dataset import render_index
    from core.synth.render import StudioConfig

    engine = default_engine()
    photo = render_index(load_arrays(), "search", 4_000_000, 1, StudioConfig())
    return lambda: engine.search(photo.image, coin=photo.meta["coin"]["type"], k=10)


register_figures(group="attributes", name="held-out crop accuracy (seed 300)", fn=_attribute_figures)
register_figures(
    group="attributes",
    name="SKU ranking, oracle masks, 500 photos",
    fn=lambda: _ranking(500, oracle=True),
    quick_fn=lambda: _ranking(20, oracle=True),
)
register_figures(
    group="attributes",
    name="SKU ranking, shipped segmenter, 500 photos",
    fn=lambda: _ranking(500, oracle=False),
    quick_fn=lambda: _ranking(20, oracle=False),
)
register_timing(
    group="attributes", name="photo 1280x960 -> top-10 (end to end)", setup=_e2e_setup, unit="photo"
)
