"""Held-out figures of segment + pose + measure on studio photos (core.synth) from seeds never trained on.

``python -m core.segment.evaluate --n 100 --n-short 50 [--segmenter FILE] [--rotationnet FILE]`` prints JSON.
``--split val`` measures on the validation streams instead (for choosing settings; the held-out streams are
for the final figures only) and ``--sweep 0.3,0.5,0.7`` prints pooled pixel IoU per threshold.

Photos are ``search`` photos (one screw and one coin) of dataset seed :data:`HELDOUT_SEED`, rendered at
``width`` x ``height``; short-screw head-side figures use ``short`` photos of seed ``HELDOUT_SEED + 1``. Pixel
figures are pooled over all photos (total intersection / total union) at the photo's full size. The locator is
told which coin lies in each photo (as a user would be), so length errors measure the pipeline, not a coin
mix-up.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import numpy as np

from core.segment.data import HELDOUT_SEED, VAL_SEED, studio_masks
from core.segment.edgenet import EDGE_VIEWS
from core.segment.predictor import DEFAULT_INFER_SIZE, DEFAULT_THRESHOLD, Segmenter, clean_instances
from core.synth.profile import overall_length_mm

__all__ = ["evaluate_heldout", "heldout_photos", "threshold_sweep", "main"]


def heldout_photos(
    n: int, mode: str = "search", seed: int = HELDOUT_SEED, width: int = 512, height: int = 384
) -> Iterator[Any]:
    """Yield ``n`` studio photos (:class:`core.synth.SynthPhoto`) of one dataset mode and seed."""
    from core.catalog.catalog import load_arrays
    from core.synth import StudioConfig, render_index

    arrays = load_arrays()
    cfg = StudioConfig(width=width, height=height)
    for i in range(n):
        yield render_index(arrays, mode, seed, i, cfg)


def _angle_err(pred: float, true: float) -> float:
    """Absolute difference of two directions in degrees, in [0, 180] (180 = head and tip swapped)."""
    return abs((pred - true + 180.0) % 360.0 - 180.0)


def _locators(
    segmenter: Segmenter,
    rotationnet: Any | None,
    use_rn: bool,
    base: Any | None = None,
    verifier: Any | None = None,
    head_reader: Any | None = None,
    edgenet: Any | None = None,
    coin_edgenet: Any | None = None,
    headend: Any | None = None,
) -> dict[str, Any]:
    from core.locate.pipeline import LocateConfig, Locator
    from core.synth import COINS

    loc = Locator(
        segmenter, rotationnet, base or LocateConfig(), verifier, head_reader, edgenet, coin_edgenet, headend
    )
    return {c: loc.with_config(coin=c, use_rotationnet=use_rn) for c in COINS}


def _match(screws: list[Any], truth: np.ndarray) -> Any | None:
    best = max(screws, key=lambda s: int((s.mask & truth).sum()), default=None)
    return best if best is not None and int((best.mask & truth).sum()) > 0 else None


def _locate(locator: Any, image: np.ndarray) -> tuple[list[Any], Any]:
    from core.errors import NoScrewFoundError

    try:
        res = locator.locate(image)
        return res.screws, res.segmentation
    except NoScrewFoundError:
        return [], locator.segmenter.predict(image)


def evaluate_heldout(
    segmenter: Segmenter,
    rotationnet: Any | None = None,
    n: int = 100,
    n_short: int = 50,
    width: int = 512,
    height: int = 384,
    seed: int = HELDOUT_SEED,
    config: Any | None = None,
    verifier: Any | None = None,
    head_reader: Any | None = None,
    edgenet: Any | None = None,
    coin_edgenet: Any | None = None,
    headend: Any | None = None,
) -> dict[str, float]:
    """All must-show figures on held-out studio photos (``seed=VAL_SEED`` for the validation streams).

    ``config`` (a :class:`core.locate.LocateConfig`, default settings when None) sets the locator; its coin
    and RotationNet switch are set per photo / variant here. ``verifier``: the blob verifier the locator
    drops clutter blobs with (:mod:`core.segment.verify`; None keeps every blob). ``head_reader``: takes the
    nominal length off the overall one by the head type (:mod:`core.locate.head`; None reads the mask).
    ``edgenet``: the locator's EdgeNet (:mod:`core.segment.edgenet`; None keeps GrabCut's outlines).
    ``coin_edgenet``: the locator's CoinEdgeNet (:mod:`core.measure.coin_edgenet`; None: the colour step).
    ``headend``: the locator's HeadEndNet (:mod:`core.pose.headend`; None: RotationNet / half areas alone).

    Returns:
        ``iou_/precision_/recall_<class>`` (pooled pixels), ``screws_found`` (share of true screws overlapped by
        a found screw), ``angle_err_median_deg``, ``head_side_correct`` (found screws whose head direction is
        within 90 deg of the truth), ``length_err_median`` / ``diameter_err_median`` (relative; length =
        nominal, under the head), ``overall_length_err_median`` (head to tip, vs the screw the studio drew:
        :func:`core.synth.profile.overall_length_mm`; until session 11 vs the true mask's pixel extent at the
        studio's scale before its perspective tilt, which held the tilt and the mask's extra pixel),
        ``short_head_side_correct_geometry`` and, with a RotationNet, ``short_head_side_correct_rotationnet``
        (neither with the HeadEndNet), with a HeadEndNet ``short_head_side_correct_headend`` (the full locator),
        and ``latency_ms_median`` of one locate call.
    """
    locs = _locators(
        segmenter,
        rotationnet,
        use_rn=rotationnet is not None,
        base=config,
        verifier=verifier,
        head_reader=head_reader,
        edgenet=edgenet,
        coin_edgenet=coin_edgenet,
        headend=headend,
    )
    acc = {c: np.zeros(3) for c in ("screw", "coin")}  # intersection, predicted, true pixels
    ang: list[float] = []
    lerr: list[float] = []
    oerr: list[float] = []
    derr: list[float] = []
    lat: list[float] = []
    found = 0
    for photo in heldout_photos(n, "search", seed, width, height):
        truth = dict(zip(("screw", "coin"), studio_masks(photo), strict=True))
        coin = photo.meta.get("coin", {}).get("type", "euro_1")
        t0 = time.perf_counter()
        screws, seg = _locate(locs[coin], photo.image)
        lat.append((time.perf_counter() - t0) * 1000.0)
        for c, gt in truth.items():
            p = seg.mask(c)
            acc[c] += [(p & gt).sum(), p.sum(), gt.sum()]
        best = _match(screws, truth["screw"])
        if best is None:
            continue
        found += 1
        ang.append(_angle_err(best.angle_deg, photo.meta["angle_deg"]))
        if best.length_mm is not None and best.diameter_mm is not None:
            lerr.append(abs(best.length_mm - photo.meta["length_mm"]) / photo.meta["length_mm"])
            derr.append(abs(best.diameter_mm - photo.meta["diameter_mm"]) / photo.meta["diameter_mm"])
        if best.overall_length_mm is not None and photo.sku is not None:
            true_overall = overall_length_mm(photo.sku)
            oerr.append(abs(best.overall_length_mm - true_overall) / true_overall)
    out: dict[str, float] = {}
    for c, (ni, npred, ntrue) in acc.items():
        out[f"iou_{c}"] = float(ni / max(npred + ntrue - ni, 1))
        out[f"precision_{c}"] = float(ni / max(npred, 1))
        out[f"recall_{c}"] = float(ni / max(ntrue, 1))
    nan = float("nan")
    out["screws_found"] = found / max(n, 1)
    out["angle_err_median_deg"] = float(np.median([min(e, 180 - e) for e in ang])) if ang else nan
    out["head_side_correct"] = float(np.mean([e < 90 for e in ang])) if ang else nan
    out["length_err_median"] = float(np.median(lerr)) if lerr else nan
    # head to tip, against the drawn screw's: the mask and the coin's error without the nominal-length convention
    out["overall_length_err_median"] = float(np.median(oerr)) if oerr else nan
    out["diameter_err_median"] = float(np.median(derr)) if derr else nan
    out["latency_ms_median"] = float(np.median(lat)) if lat else nan
    out.update(
        _short_head_side(
            segmenter, rotationnet, n_short, width, height, seed + 1, config, verifier, edgenet, headend
        )
    )
    return out


def _short_head_side(
    segmenter: Segmenter,
    rotationnet: Any | None,
    n: int,
    width: int,
    height: int,
    seed: int,
    config: Any | None = None,
    verifier: Any | None = None,
    edgenet: Any | None = None,
    headend: Any | None = None,
) -> dict[str, float]:
    """Head side correct on short screws, geometry only and (when given) with RotationNet, and with the
    HeadEndNet after them (when given)."""
    variants = {
        "geometry": _locators(segmenter, None, use_rn=False, base=config, verifier=verifier, edgenet=edgenet)
    }
    if rotationnet is not None:
        variants["rotationnet"] = _locators(
            segmenter, rotationnet, use_rn=True, base=config, verifier=verifier, edgenet=edgenet
        )
    if headend is not None:
        variants["headend"] = _locators(
            segmenter,
            rotationnet,
            use_rn=rotationnet is not None,
            base=config,
            verifier=verifier,
            edgenet=edgenet,
            headend=headend,
        )
    hits: dict[str, list[bool]] = {k: [] for k in variants}
    for photo in heldout_photos(n, "short", seed, width, height):
        truth, _ = studio_masks(photo)
        coin = photo.meta.get("coin", {}).get("type", "euro_1")
        for name, locs in variants.items():
            screws, _ = _locate(locs[coin], photo.image)
            best = _match(screws, truth)
            # A screw not found counts as wrong: the user gets no head side at all.
            hits[name].append(best is not None and _angle_err(best.angle_deg, photo.meta["angle_deg"]) < 90)
    return {f"short_head_side_correct_{k}": float(np.mean(v)) if v else float("nan") for k, v in hits.items()}


def threshold_sweep(
    segmenter: Segmenter,
    thresholds: list[float],
    n: int,
    seed: int = VAL_SEED,
    width: int = 512,
    height: int = 384,
) -> dict[str, dict[str, float]]:
    """Pooled pixel IoU per class of the cleaned instance masks at each threshold (one network pass a photo).

    Returns:
        ``{"0.5": {"iou_screw": ..., "iou_coin": ...}, ...}``.
    """
    acc = {t: {c: np.zeros(2) for c in segmenter.classes} for t in thresholds}  # intersection, union
    for photo in heldout_photos(n, "search", seed, width, height):
        probs = segmenter.probabilities(photo.image)
        min_area = max(12, int(segmenter.min_area_frac * width * height))
        truth = dict(zip(("screw", "coin"), studio_masks(photo), strict=True))
        for t in thresholds:
            for i, c in enumerate(segmenter.classes):
                m = np.zeros((height, width), bool)
                for blob in clean_instances(probs[i], t, min_area):
                    m |= blob
                gt = truth[c]
                acc[t][c] += [(m & gt).sum(), (m | gt).sum()]
    return {
        f"{t:g}": {f"iou_{c}": float(v[0] / max(v[1], 1)) for c, v in per.items()} for t, per in acc.items()
    }


def main(argv: list[str] | None = None) -> int:
    import torch

    from core.checkpoints import build_from_checkpoint
    from core.locate.head import add_head_reader_args, head_reader_from_args
    from core.locate.pipeline import LocateConfig
    from core.paths import models_dir
    from core.segment.model import load_segmenter

    p = argparse.ArgumentParser(prog="python -m core.segment.evaluate")
    p.add_argument("--n", type=int, default=100, help="held-out search photos")
    p.add_argument("--n-short", type=int, default=50, help="held-out short-screw photos")
    p.add_argument("--segmenter", default=str(models_dir() / "segmenter" / "segmenter.safetensors"))
    p.add_argument("--rotationnet", default=None)
    p.add_argument(
        "--infer-size", type=int, default=DEFAULT_INFER_SIZE, help="longer side the segmenter sees"
    )
    p.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD, help="pixel probability threshold")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--split", choices=("heldout", "val"), default="heldout", help="photo streams to use")
    p.add_argument("--flip-tta", action="store_true", help="average with the mirrored photo's pass")
    p.add_argument("--refine-zoom", type=float, default=1.0, help="second pass around screws (1 = off)")
    p.add_argument("--sweep", default="", help="comma-separated thresholds: print pixel IoU at each only")
    p.add_argument("--no-coin-disc", action="store_true", help="keep the raw coin masks")
    p.add_argument(
        "--no-coin-robust",
        action="store_true",
        help="redraw a coin only when its whole outline is an ellipse",
    )
    p.add_argument(
        "--no-coin-edges",
        action="store_true",
        help="keep the segmenter's coin outline (no fit on the photo's edges)",
    )
    p.add_argument(
        "--no-coin-affine", action="store_true", help="one scale in every direction (not the coin ellipse's)"
    )
    p.add_argument("--mask-oversize", type=float, default=LocateConfig.mask_oversize_px, help="px")
    p.add_argument("--max-coins", type=int, default=LocateConfig.max_coins, help="coin blobs kept (0 = all)")
    p.add_argument(
        "--no-refine-edges", action="store_true", help="skip the GrabCut refinement of the screw masks"
    )
    p.add_argument("--verifier", default=None, help="blob verifier (default: the shipped one, when present)")
    p.add_argument("--no-verifier", action="store_true", help="keep every screw blob")
    p.add_argument(
        "--edgenet", default=None, help="EdgeNet outline model (default: the shipped one, when present)"
    )
    p.add_argument("--no-edgenet", action="store_true", help="keep GrabCut's outlines")
    from core.measure.coin_edgenet import add_coin_edgenet_args

    add_coin_edgenet_args(p)
    from core.pose.headend import add_headend_args

    add_headend_args(p)
    p.add_argument(
        "--headend-flip-below",
        type=float,
        default=LocateConfig.headend_flip_below,
        help="turn a screw round when HeadEndNet's head-up probability is below this (0 = off)",
    )
    p.add_argument(
        "--no-coin-edges-fallback",
        action="store_true",
        help="when the CoinEdgeNet refuses a coin, keep the mask's circle (not the colour step's fit)",
    )
    p.add_argument(
        "--edgenet-views",
        type=int,
        choices=EDGE_VIEWS,
        default=LocateConfig.edgenet_views,
        help="EdgeNet's logits averaged over the crop and its mirrors",
    )
    p.add_argument(
        "--edgenet-min-hole",
        type=float,
        default=LocateConfig.edgenet_min_hole,
        help="holes in EdgeNet's outline of at least this share of the screw's area are kept (0 = fill all)",
    )
    p.add_argument(
        "--symmetry-below",
        type=float,
        default=LocateConfig.symmetry_below,
        help="below this rectangle aspect the axis is the mask's mirror line (0 = off)",
    )
    p.add_argument(
        "--rotationnet-window-deg",
        type=float,
        default=LocateConfig.rotationnet_window_deg,
        help="RotationNet's probability within this many degrees of a candidate direction counts for it",
    )
    p.add_argument(
        "--grabcut-iterations", type=int, default=LocateConfig().grabcut.iterations, help="GrabCut iterations"
    )
    add_head_reader_args(p)
    p.add_argument("--verify-min", type=float, default=LocateConfig.verify_min, help="verifier threshold")
    p.add_argument(
        "--second-look-zoom",
        type=float,
        default=LocateConfig.second_look_zoom,
        help="zoom of the segmenter's second look when it finds no screw or only doubted blobs (1 = off)",
    )
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    seed = VAL_SEED if a.split == "val" else HELDOUT_SEED
    seg = Segmenter(
        load_segmenter(a.segmenter),
        infer_size=a.infer_size,
        threshold=a.threshold,
        flip_tta=a.flip_tta,
        refine_zoom=a.refine_zoom,
    )
    if a.sweep:
        try:
            ts = [float(t) for t in a.sweep.split(",")]
        except ValueError as e:
            from core.errors import ConfigError

            raise ConfigError(f"--sweep takes numbers like 0.3,0.5, got {a.sweep!r}", field="sweep") from e
        print(json.dumps(threshold_sweep(seg, ts, a.n, seed), indent=2))
        return 0
    rn = None
    if a.rotationnet:
        from core.pose.rotationnet import create_rotationnet

        rn = build_from_checkpoint(a.rotationnet, create_rotationnet).eval()
    from core.segment.verify import load_verifier

    ver = None if a.no_verifier else load_verifier(a.verifier)
    from core.segment.edgenet import load_edgenet

    edge = None if a.no_edgenet or a.no_refine_edges else load_edgenet(a.edgenet)
    from core.measure.coin_edgenet import coin_edgenet_from_args

    coin_edge = coin_edgenet_from_args(a)
    from core.pose.headend import headend_from_args

    heads_up = headend_from_args(a)
    cfg = LocateConfig(
        coin_disc=not a.no_coin_disc,
        coin_robust=not a.no_coin_robust,
        coin_edges=not a.no_coin_edges,
        coin_edges_fallback=not a.no_coin_edges_fallback,
        coin_affine=not a.no_coin_affine,
        mask_oversize_px=a.mask_oversize,
        max_coins=a.max_coins,
        refine_edges=not a.no_refine_edges,
        verify_min=a.verify_min,
        second_look_zoom=a.second_look_zoom,
        edgenet_views=a.edgenet_views,
        edgenet_min_hole=a.edgenet_min_hole,
        symmetry_below=a.symmetry_below,
        rotationnet_window_deg=a.rotationnet_window_deg,
        headend_flip_below=a.headend_flip_below,
    )
    cfg = replace(cfg, grabcut=replace(cfg.grabcut, iterations=a.grabcut_iterations))
    heads = head_reader_from_args(a)
    out = evaluate_heldout(
        seg,
        rn,
        a.n,
        a.n_short,
        seed=seed,
        config=cfg,
        verifier=ver,
        head_reader=heads,
        edgenet=edge,
        coin_edgenet=coin_edge,
        headend=heads_up,
    )
    settings = {
        "split": a.split,
        "infer_size": a.infer_size,
        "threshold": a.threshold,
        "max_coins": a.max_coins,
        "coin_robust": not a.no_coin_robust,
        "coin_edges": not a.no_coin_edges,
        "coin_edgenet": None if coin_edge is None else (a.coin_edgenet or "shipped"),
        "coin_edges_fallback": not a.no_coin_edges_fallback,
        "headend": None if heads_up is None else (a.headend or "shipped"),
        "headend_flip_below": a.headend_flip_below,
        "coin_affine": not a.no_coin_affine,
        "mask_oversize_px": a.mask_oversize,
        "refine_edges": not a.no_refine_edges,
        "verifier": None if ver is None else (a.verifier or "shipped"),
        "verify_min": a.verify_min,
        "nominal_from": "mask" if heads is None else "head classifier",
        "edgenet": None if edge is None else (a.edgenet or "shipped"),
        "second_look_zoom": a.second_look_zoom,
        "edgenet_views": a.edgenet_views,
        "edgenet_min_hole": a.edgenet_min_hole,
        "symmetry_below": a.symmetry_below,
        "rotationnet_window_deg": a.rotationnet_window_deg,
        "grabcut_iterations": a.grabcut_iterations,
    }
    settings.update({"flip_tta": a.flip_tta, "refine_zoom": a.refine_zoom})
    print(json.dumps({**settings, **out}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
