"""Attribute accuracy on held-out crops and SKU ranking on held-out studio photos (issue: identify and rank).

Held-out data never touched in training or model selection: crops from seed stream 300
(``python -m core.attributes crops --n 550 --seed 300 --out runs/attributes/crops-test.npz``; head, tip,
thread) and 310 (``... --n 550 --seed 310 --mode search --out runs/attributes/crops-search-test.npz``: search
photos with a coin, for the coin-balanced finish input), the same photos cut from the shipped segmenter's
masks (``--segmenter models/segmenter/segmenter.safetensors --rotationnet models/rotationnet/rotationnet.safetensors``,
files ``crops-predgc-test.npz`` / ``crops-search-predgc-test.npz``), photos from seed stream 4,000,000+.
Training used streams 100 / 130 / 110 / 111 / 140 / 141, epoch selection 200 / 210.
"""

from __future__ import annotations

import time
from typing import Any

from bench.harness import in_turn, register_figures, register_timing

_TEST = "runs/attributes/crops-test.npz"
# held-out crop files per attribute: (exact masks, the shipped segmenter's masks)
_FILES = {
    "head": (_TEST, "runs/attributes/crops-predgc-test.npz"),
    "tip": (_TEST, "runs/attributes/crops-predgc-test.npz"),
    "thread": (_TEST, "runs/attributes/crops-predgc-test.npz"),
    "finish": ("runs/attributes/crops-search-test.npz", "runs/attributes/crops-search-predgc-test.npz"),
}


def _accuracy(path_model: str, attribute: str, test: str = _TEST) -> float:
    """Held-out accuracy on the crop-file input the checkpoint was trained on (its ``arch["input"]``)."""
    from core.attributes.evaluate import evaluate_model

    ev = evaluate_model(path_model, test)
    assert ev.attribute == attribute, (path_model, ev.attribute)
    return ev.accuracy


def _attribute_figures() -> dict[str, float | str]:
    from pathlib import Path

    import numpy as np

    from core.attributes.data import load_crop_arrays
    from core.paths import models_dir

    root = models_dir() / "attributes"
    out: dict[str, float | str] = {}

    def acc(model: Path, a: str, crops: str) -> float | str:
        if not model.is_file():
            return "no model"
        if not Path(crops).is_file():
            return f"no {crops} (see this module's docstring)"
        return round(_accuracy(str(model), a, crops), 4)

    for a, (exact, pred) in _FILES.items():
        out[f"{a} acc"] = acc(root / f"{a}.safetensors", a, exact)
        out[f"{a} acc, pipeline crops"] = acc(root / f"{a}.safetensors", a, pred)
    d = load_crop_arrays(_TEST)
    y = d["y_thread"]
    out["thread best constant answer"] = round(float((y == np.bincount(y).argmax()).mean()), 4)
    out["finish plain acc"] = acc(root / "finish_plain.safetensors", "finish", _FILES["finish"][0])
    out["finish plain acc, pipeline crops"] = acc(
        root / "finish_plain.safetensors", "finish", _FILES["finish"][1]
    )
    return out


#: With ``assist``, a simulated person clicks the screw when the answer's outline overlaps the true screw by less
#: than this IoU (nothing outlined, or the wrong thing: what the overlay shows them).
ASSIST_BELOW_IOU = 0.5


def _clicked_ids(engine: Any, photo: Any, click: tuple[float, float]) -> list[str]:
    """The top-5 SKU ids of ``photo``'s search with a click at ``click`` ([] when nothing is found there)."""
    from core.errors import FvwError

    try:
        res = engine.search(photo.image, coin=photo.meta["coin"]["type"], k=5, click=click)
    except FvwError:
        return []
    return [m.sku for m in res.matches]


def _ranking(
    n: int,
    oracle: bool,
    leave_out: str = "",
    seed: int = 4_000_000,
    segmenter: str = "",
    assist: bool = False,
) -> dict[str, float | str]:
    """SKU top-1 / top-5 over the 15,000-SKU catalog on n held-out studio photos.

    ``leave_out`` drops one shipped attribute classifier (what that attribute adds to the ranking). ``seed``
    4,000,000 is the held-out stream of the figures; choices are made on another (e.g. 4,500,000).
    ``segmenter``: a checkpoint to use instead of the shipped one (candidates compared before shipping).
    ``assist``: also the figures after one click (``search(click=...)``) on the true screw's innermost pixel
    (:func:`core.interactive.clicks.first_click`, the labelling benchmark's first click)
    wherever the answer outlined nothing or the wrong thing (IoU < :data:`ASSIST_BELOW_IOU`), and the top-5 after one
    click at a random pixel of the screw instead (seeded by the photo's index).
    """
    import cv2
    import numpy as np

    from core.catalog.catalog import load_arrays
    from core.errors import FvwError
    from core.interactive.clicks import first_click, iou
    from core.locate import LocateConfig, Locator
    from core.search.engine import default_engine
    from core.segment.data import polygon_mask
    from core.segment.predictor import Segmentation
    from core.synth.dataset import render_index
    from core.synth.render import StudioConfig

    arrays = load_arrays()
    engine = default_engine()
    if segmenter:
        from core.segment.model import load_segmenter

        engine.locator.segmenter.model = load_segmenter(segmenter).eval()
    engine.classifiers.pop(leave_out, None)
    real_locator = engine.locator
    top1 = top5 = done = failed = 0
    attr_hits: dict[str, int] = {}  # attribute top-1 on the crops the pipeline itself cut
    clicked = a_top1 = a_top5 = r_top5 = 0
    click_ms: list[float] = []
    for i in range(n):
        photo = render_index(arrays, "search", seed, i, StudioConfig())
        assert photo.sku is not None
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

            # exact masks: nothing for GrabCut to refine
            engine.locator = Locator(_Oracle(), real_locator.rotationnet, LocateConfig(refine_edges=False))
        res = None
        try:
            res = engine.search(photo.image, coin=photo.meta["coin"]["type"], k=5)
        except FvwError:
            failed += 1
        ids = [m.sku for m in res.matches] if res is not None else []
        if assist:
            truth = polygon_mask(photo.screw_polygon, *photo.image.shape[:2])
            got = anywhere = ids
            answered = polygon_mask(np.asarray(res.polygon, np.float64), *truth.shape) if res else None
            if answered is None or iou(answered, truth) < ASSIST_BELOW_IOU:
                clicked += 1
                t0 = time.perf_counter()
                got = _clicked_ids(engine, photo, first_click(truth))
                click_ms.append(1000 * (time.perf_counter() - t0))
                # a person does not always click the middle: one pixel of the screw at random (1 px inside)
                inside = np.argwhere(cv2.erode(truth.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0)
                if len(inside):
                    y, x = inside[np.random.default_rng(i).integers(len(inside))]
                    anywhere = _clicked_ids(engine, photo, (float(x) + 0.5, float(y) + 0.5))
                else:
                    anywhere = got
            a_top1 += bool(got) and got[0] == photo.sku.id
            a_top5 += photo.sku.id in got
            r_top5 += photo.sku.id in anywhere
        if res is None:
            continue
        top1 += ids[0] == photo.sku.id
        top5 += photo.sku.id in ids
        truth = photo.sku.attributes()
        for name, ranked in res.attributes.items():
            attr_hits[name] = attr_hits.get(name, 0) + int(ranked[0][0] == truth[name])
        done += 1
    engine.locator = real_locator
    return {
        "photos": n,
        "no answer": failed,
        "SKU top-1": round(top1 / n, 4),
        "SKU top-5": round(top5 / n, 4),
        # per attribute, over the photos answered (crops from the masks this run used)
        **{f"{a} top-1 (pipeline crops)": round(h / max(done, 1), 4) for a, h in sorted(attr_hits.items())},
        **(
            {
                "clicked (nothing or the wrong thing outlined)": clicked,
                "SKU top-1, one click there": round(a_top1 / n, 4),
                "SKU top-5, one click there": round(a_top5 / n, 4),
                "SKU top-5, one click anywhere on the screw": round(r_top5 / n, 4),
                "click search ms (median)": round(float(np.median(click_ms)), 1) if click_ms else "-",
            }
            if assist
            else {}
        ),
    }


def _thread_orientation(n: int) -> dict[str, float | str]:
    """Thread accuracy on held-out studio photos (seed 300, exact masks): true vs estimated head direction.

    The strip is cut head-up; a head/tip mix-up by the pose stage turns it upside down.
    """
    import numpy as np
    import torch

    from core.attributes.data import _polygon_mask, crops_from_mask
    from core.attributes.train import load_attribute_model, to_tensor
    from core.catalog.catalog import load_arrays
    from core.catalog.taxonomy import index_of
    from core.paths import models_dir
    from core.pose.geometry import axis_from_mask, head_side
    from core.synth.dataset import render_index
    from core.synth.render import StudioConfig

    path = models_dir() / "attributes" / "thread.safetensors"
    if not path.is_file():
        return {"thread": "no model"}
    model, _ = load_attribute_model(path)
    arrays, cfg = load_arrays(), StudioConfig(width=960, height=720)
    hits = np.zeros(2)
    flips = done = 0
    for i in range(n):
        ph = render_index(arrays, "train", 300, i, cfg)
        if ph.sku is None or ph.screw_polygon is None:
            continue
        mask = _polygon_mask(ph.screw_polygon, *ph.image.shape[:2])
        true_angle = float(ph.meta["angle_deg"])
        est_angle, _ = head_side(mask, axis_from_mask(mask))
        flips += abs((est_angle - true_angle + 180) % 360 - 180) > 90
        strips = [crops_from_mask(ph.image, mask, a)[0].thread for a in (true_angle, est_angle)]
        with torch.inference_mode():
            pred = model(to_tensor(np.stack(strips))).argmax(1).numpy()
        hits += pred == index_of("thread", ph.sku.thread)
        done += 1
    return {
        "screws": done,
        "thread acc, true head direction": round(float(hits[0]) / max(done, 1), 4),
        "thread acc, head_side() direction": round(float(hits[1]) / max(done, 1), 4),
        "head/tip flipped by head_side()": round(flips / max(done, 1), 4),
    }


#: Photos the end-to-end timing takes in turn, each once (``bench.harness.in_turn``; until session 10 one photo
#: was timed again and again).
E2E_PHOTOS = 30


def _e2e_setup():
    from core.catalog.catalog import load_arrays
    from core.errors import NoScrewFoundError
    from core.search.engine import default_engine
    from core.synth.dataset import render_index
    from core.synth.render import StudioConfig

    engine = default_engine()
    arrays = load_arrays()
    photos = [render_index(arrays, "search", 4_000_000, i, StudioConfig()) for i in range(E2E_PHOTOS)]
    return in_turn(
        photos, lambda p: engine.search(p.image, coin=p.meta["coin"]["type"], k=10), (NoScrewFoundError,)
    )


register_figures(group="attributes", name="held-out crop accuracy (seeds 300 / 310)", fn=_attribute_figures)
register_figures(
    group="attributes",
    name="thread strip vs head direction (exact masks, 150 photos)",
    fn=lambda: _thread_orientation(150),
    quick_fn=lambda: _thread_orientation(20),
)
register_figures(
    group="attributes",
    name="SKU ranking, oracle masks, 500 photos",
    fn=lambda: _ranking(500, oracle=True),
    quick_fn=lambda: _ranking(20, oracle=True),
)
register_figures(
    group="attributes",
    name="SKU ranking, oracle masks, 500 photos, thread left out",
    fn=lambda: _ranking(500, oracle=True, leave_out="thread"),
    quick_fn=lambda: _ranking(20, oracle=True, leave_out="thread"),
)
# The whole pipeline (shipped segmenter) sits with the scoring timings: `python -m bench --only search`.
register_figures(
    group="search",
    name="SKU ranking, shipped segmenter, 500 photos",
    fn=lambda: _ranking(500, oracle=False, assist=True),
    quick_fn=lambda: _ranking(20, oracle=False, assist=True),
)
register_timing(
    group="search",
    name=f"photo 1280x960 -> top-10 (end to end, {E2E_PHOTOS} photos in turn)",
    setup=_e2e_setup,
    unit="photo",
    repeats=E2E_PHOTOS,
)
