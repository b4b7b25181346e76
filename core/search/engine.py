"""The real search engine: locate -> canonical crops -> attribute classifiers -> catalog ranking.

``PipelineEngine`` is thread-safe: the models are read-only after loading and every request builds its
own small objects; torch runs under ``inference_mode``. ``default_engine()`` loads what ``models/`` ships
(``models/segmenter/``, ``models/attributes/<attribute>.safetensors``); an attribute without a shipped
classifier is left out of the score (the answer says so) rather than guessed.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray

from core.catalog.coins import COINS
from core.catalog.taxonomy import ATTRIBUTE_NAMES, values_of
from core.device import inference_layout
from core.errors import CheckpointError, InputError, NoScrewFoundError
from core.measure.head_allowance import nominal_from_overall
from core.search.result import ExamplePhoto, SearchResult
from core.search.scoring import ScoringConfig, SizeMeasurement, top_k

__all__ = [
    "PipelineEngine",
    "default_engine",
    "example_set",
    "ExamplePhoto",
    "attribute_model_paths",
    "most_screw_like",
]


def attribute_model_paths(models: Path | None = None) -> dict[str, Path]:
    """Shipped attribute classifiers found under ``models/attributes`` (attribute -> file)."""
    from core.paths import models_dir

    root = (models or models_dir()) / "attributes"
    return {a: root / f"{a}.safetensors" for a in ATTRIBUTE_NAMES if (root / f"{a}.safetensors").is_file()}


def most_screw_like(screws: list[Any]) -> Any:
    """The blob the search answers for when the locator keeps several: the highest
    ``(mean screw probability)^8 x area`` (a confidence-weighted count of screw pixels).

    Until session 14 the rule was ``16 log(mean probability) + 0.5 log(area)``, chosen in session 6 when clutter
    blobs (pens, bottles) still reached this choice; since the blob verifier drops those first, that rule's weight
    on confidence only let a confident fragment of the screw (a piece of its head, a split-off part) beat the whole
    screw. Validation (500 search photos of seeds 4,500,000 / 4,600,000, ``python -m bench.blob_choice``; 12 photos
    with several blobs): the true screw picked in 492 of the 492 photos where it was among the blobs, vs 488 by the
    old rule (area alone, probability x area and probability^4 x area also 492); the 4 photos changed all got
    their SKU into the top 5 (3 at rank 1), SKU top-5 0.952 -> 0.960.
    """
    if not screws:
        raise NoScrewFoundError("no screw found in the photo")
    return max(screws, key=lambda s: float(s.mask_confidence) ** 8 * float(s.mask.sum()))


#: Extra GrabCut cuts of the chosen screw whose crops the classifiers also read (``LocateConfig.view_reaches``):
#: the classifiers' answers move with small changes of the mask (between the cuts at reach 0 and 1, 43-53 of 492
#: validation screws changed their head or tip answer each way), and averaging over cuts steadies them. On the
#: 500 validation photos (seeds 4,500,000 / 4,600,000, ``python -m bench.ranking_study collect ... --view-reaches
#: 0 0.5 2``), SKU top-1 / top-5: reach-0 cut alone (session 7) 0.786 / 0.858, reach-1 cut alone 0.772 / 0.870,
#: reach 1 + reach 0 **0.788 / 0.878**, + 0.5 or + 2 or all four 0.790-0.792 / 0.876-0.882 (one cut is cheaper).
#: Since session 11 none: with EdgeNet redrawing the main outline (session 10) the reach-0 cut no longer earns its
#: GrabCut (50-150 ms of a 1280x960 photo's median time, ``python -m bench.search_latency --view-reaches 0``): same
#: validation photos, SKU top-1 / top-5 with the main cut alone vs + reach 0, with
#: GrabCut's box at full size 0.898 / 0.940 vs 0.900 / 0.936, shrunk to 100,000 px (shipped,
#: ``GrabCutConfig.max_pixels``) 0.892 / 0.940 vs 0.896 / 0.938, to 50,000 px 0.886 / 0.940 vs 0.890 / 0.940.
SEARCH_VIEW_REACHES: tuple[float, ...] = ()


class PipelineEngine:
    """Photo in, ranked SKUs with evidence out (see :class:`core.search.SearchEngine`)."""

    def __init__(
        self,
        locator: Any,  # core.locate.Locator
        classifiers: Mapping[str, torch.nn.Module],
        catalog: Any,  # core.catalog.CatalogArrays
        scoring: ScoringConfig = ScoringConfig(),
        inputs: Mapping[str, str] | None = None,
        mirror_tta: bool = True,
    ) -> None:
        for name in classifiers:
            if name not in ATTRIBUTE_NAMES:
                raise InputError(f"unknown attribute {name!r}; valid: {', '.join(ATTRIBUTE_NAMES)}")
        self.locator = locator
        self.classifiers = {k: inference_layout(m) for k, m in classifiers.items()}
        self.catalog = catalog
        self.scoring = scoring
        # the crop each classifier reads (its checkpoint's ``arch["input"]``), e.g. finish -> finish_wb
        self.inputs = {name: (inputs or {}).get(name) or name for name in self.classifiers}
        # Average each classifier's probabilities over the crop and its left-right mirror (a flip no attribute's
        # class depends on; every training policy uses it). Validation, 500 photos of seeds 4,500,000 /
        # 4,600,000 (`python -m bench.ranking_study`): SKU top-1 / top-5 0.644 / 0.756 -> 0.664 / 0.772 with the
        # session-5 classifiers; with the session-6 ones 0.738 / 0.838 -> 0.738 / 0.840 (no gain; kept: ~5 ms).
        self.mirror_tta = mirror_tta

    def _probs(
        self, crops: dict[str, NDArray[np.uint8]], *more: dict[str, NDArray[np.uint8]]
    ) -> dict[str, NDArray[np.float64]]:
        """Each classifier's probabilities averaged over ``crops`` and ``more`` views of the same screw (cut
        from other masks), each also mirrored when ``mirror_tta``."""
        from core.attributes.train import to_tensor

        out: dict[str, NDArray[np.float64]] = {}
        with torch.inference_mode():
            for name, model in self.classifiers.items():
                x = np.stack([c[self.inputs[name]] for c in (crops, *more)])
                if self.mirror_tta:
                    x = np.concatenate([x, x[:, :, ::-1]])
                p = torch.softmax(model(to_tensor(x)).float(), dim=1).mean(0)  # (C,)
                out[name] = p.double().numpy()
        return out

    def search(
        self,
        image: NDArray[np.uint8],
        *,
        coin: str = "euro_1",
        k: int = 10,
        click: tuple[float, float] | None = None,
    ) -> SearchResult:
        """Search one (H, W, 3) uint8 RGB photo; raises NoScrewFoundError / InputError with the fix.

        ``click``: an (x, y) pixel on the screw, from a person who saw the answer outline nothing or the wrong
        thing (:meth:`core.locate.Locator.locate`); the search then answers for that screw.
        """
        from core.attributes.data import crops_from_canonical
        from core.locate.output import draw_overlay

        if coin not in COINS:
            raise InputError(f"unknown coin {coin!r}; valid coins: {', '.join(COINS)}", field="coin")
        t0 = time.perf_counter()
        loc = self.locator.with_config(coin=coin).locate(image, click=click)
        t1 = time.perf_counter()
        if not loc.screws:  # pragma: no cover - locate raises first
            raise NoScrewFoundError("no screw found in the photo")
        warnings: list[str] = []
        screw = most_screw_like(loc.screws)
        cfg = self.locator.config
        if screw.verify_score is not None and screw.verify_score < cfg.verify_min:
            warnings.append(
                f"the blob verifier doubts this is a screw (p = {screw.verify_score:.2f}): the ranking may be "
                "about something else; if the outline is not the screw, click the screw on the photo (or put "
                "it on a plain background, in focus)"
            )
        if len(loc.screws) > 1:
            warnings.append(
                f"{len(loc.screws)} screws found: ranking the most screw-like one (sure and large); click "
                "another on the photo to rank it instead, or photograph one at a time"
            )
        from core.attributes.colour import coin_gains

        coins = loc.segmentation.instances.get("coin", [])
        gains = coin_gains(image, coins[0], coin) if loc.coin is not None and coins else None
        if gains is None and "finish_wb" in self.inputs.values():
            warnings.append("finish read without the coin's colour reference (no usable coin): less reliable")
        crops = crops_from_canonical(screw.canonical, gains).as_dict()
        probs = self._probs(crops, *(crops_from_canonical(v, gains).as_dict() for v in screw.views))
        t2 = time.perf_counter()
        missing = [a for a in ATTRIBUTE_NAMES if a not in probs]
        if missing:
            warnings.append(f"no classifier shipped for {', '.join(missing)}: not used in the ranking")
        for key, why in screw.reasons.items():
            warnings.append(f"{key}: {why}")
        if loc.coin is None and loc.coin_reason:
            warnings.append(loc.coin_reason)
        length_mm, length_std = screw.length_mm, screw.length_mm_std
        table = self.scoring.head_allowance
        if (
            table is not None
            and "head" in probs
            and screw.overall_length_mm is not None
            and screw.diameter_mm
        ):
            # The nominal length the user sees: overall minus the head allowance the head classifier's
            # probabilities expect (core.locate.head: validation error 0.069 -> 0.050 at 512 px vs the mask).
            nominal, head_sd = nominal_from_overall(
                screw.overall_length_mm, screw.diameter_mm, probs["head"], table
            )
            length_mm = max(nominal, 0.1)
            length_std = math.hypot(screw.overall_length_mm_std or 0.0, head_sd)
        length = SizeMeasurement(length_mm, length_std or 0.0)
        diameter = SizeMeasurement(screw.diameter_mm, screw.diameter_mm_std or 0.0)
        overall = SizeMeasurement(screw.overall_length_mm, screw.overall_length_mm_std or 0.0)
        matches = top_k(self.catalog, probs, k, length, diameter, self.scoring, overall)
        t3 = time.perf_counter()
        attrs = {}
        for name, p in probs.items():
            order = np.argsort(-p)[:3]
            attrs[name] = [(values_of(name)[int(i)], float(p[int(i)])) for i in order]
        coin_info = None
        if loc.coin is not None:
            c = loc.coin
            coin_info = {
                "type": coin,
                "center": [round(float(c.circle.cx), 1), round(float(c.circle.cy), 1)],
                "radius_px": round(float(c.circle.r), 2),
                "px_per_mm": round(float(c.px_per_mm), 4),
                "fit": c.circle.method,
            }
            if c.ellipse is not None:  # seen at a slant: b / a = cos(tilt)
                coin_info["tilt_deg"] = round(math.degrees(math.acos(min(c.ellipse.b / c.ellipse.a, 1.0))), 1)
        return SearchResult(
            overlay=draw_overlay(image, loc),  # with a click: a cross where the person clicked
            crops={
                "canonical": screw.canonical.image[..., :3].copy(),
                **{
                    k: v
                    for k, v in crops.items()
                    if k != "tip_tall" and (k != "finish_wb" or gains is not None)
                },
            },
            length_mm=length_mm,
            length_sigma_mm=length_std,
            diameter_mm=screw.diameter_mm,
            diameter_sigma_mm=screw.diameter_mm_std,
            overall_length_mm=screw.overall_length_mm,
            overall_length_sigma_mm=screw.overall_length_mm_std,
            coin=coin_info,
            polygon=screw.polygon,
            clicked=click is not None,
            attributes=attrs,
            matches=matches,
            warnings=warnings,
            timings_ms={
                "locate": 1000 * (t1 - t0),
                "classify": 1000 * (t2 - t1),
                "rank": 1000 * (t3 - t2),
            },
        )

    def thumbnail(self, sku: str, size: int = 128) -> NDArray[np.uint8]:
        from core.synth.thumbnail import thumbnail

        return thumbnail(self.catalog.sku(self.catalog.row_of(sku)), size)


def default_engine(models: Path | None = None, catalog: str | Path | None = None) -> PipelineEngine:
    """The engine over what ``models/`` ships (CheckpointError names what is missing).

    ``catalog`` is a SQLite catalog (``python -m core.catalog import my.csv --db my.sqlite``); default:
    ``FVW_CATALOG`` if set, else the generated 15,000-SKU catalog.
    """
    import os

    from core.attributes.train import load_attribute_model
    from core.catalog.catalog import load_arrays
    from core.datasets.selection import selected_model
    from core.locate import Locator
    from core.paths import models_dir

    root = models or models_dir()
    # The Models page's choice (models/selected.json) wins over the shipped file.
    seg = selected_model(root, "segmenter") or root / "segmenter" / "segmenter.safetensors"
    if not seg.is_file():
        raise CheckpointError(
            "no segmenter checkpoint; train one with `python -m core.train segmenter --config "
            "models/segmenter/train.yaml`",
            path=seg,
        )
    rot = root / "rotationnet" / "rotationnet.safetensors"
    from core.segment.predictor import SEARCH_REFINE_ZOOM

    # 512 px, the shipped model's scale, then each screw again at 1.6x that scale.
    from core.segment.verify import VERIFIER_FILE

    # The blob verifier drops clutter blobs when it is shipped (core.segment.verify).
    ver = root.joinpath(*VERIFIER_FILE)
    from core.segment.edgenet import EDGENET_FILE

    # EdgeNet redraws each screw's outline after GrabCut when it is shipped (core.segment.edgenet).
    edge = root.joinpath(*EDGENET_FILE)
    from core.measure.coin_edgenet import COIN_EDGENET_FILE

    # CoinEdgeNet finds the coin's edge (its scale and mask) when it is shipped (core.measure.coin_edgenet).
    coin_edge = root.joinpath(*COIN_EDGENET_FILE)
    from core.pose.headend import HEADEND_FILE

    # HeadEndNet turns a screw round when it sees the head at the other end, when it is shipped (core.pose.headend).
    heads_up = root.joinpath(*HEADEND_FILE)
    from core.locate import LocateConfig

    locator = Locator.from_files(
        seg,
        rot if rot.is_file() else None,
        config=LocateConfig(view_reaches=SEARCH_VIEW_REACHES),
        refine_zoom=SEARCH_REFINE_ZOOM,
        verifier_path=ver if ver.is_file() else None,
        edgenet_path=edge if edge.is_file() else None,
        coin_edgenet_path=coin_edge if coin_edge.is_file() else None,
        headend_path=heads_up if heads_up.is_file() else None,
    )
    loaded = {a: load_attribute_model(p) for a, p in attribute_model_paths(root).items()}
    from core.measure.head_allowance import default_path, load_head_allowance

    # Score the overall length against nominal + head allowance when the table is shipped (see that module).
    allowance = load_head_allowance(default_path(root))
    scoring = ScoringConfig(head_allowance=allowance)
    return PipelineEngine(
        locator,
        {a: m for a, (m, _) in loaded.items()},
        load_arrays(catalog or os.environ.get("FVW_CATALOG") or None),
        scoring=scoring,
        inputs={a: str(arch.get("input") or a) for a, (_, arch) in loaded.items()},
    )


def example_set(n: int = 6) -> list[ExamplePhoto]:
    """The example photos with their coin and label (:class:`ExamplePhoto`), rendered on first use into
    ``runs/cache/search-examples`` (the photo and a JSON of what it shows, each written whole)."""
    from core.catalog.catalog import load_arrays
    from core.paths import runs_dir
    from core.synth.dataset import render_index
    from core.synth.render import StudioConfig

    out = runs_dir() / "cache" / "search-examples"
    out.mkdir(parents=True, exist_ok=True)
    found = []
    arrays = None
    for i in range(n):
        p, meta_file = out / f"example_{i}.jpg", out / f"example_{i}.json"
        meta = None
        if p.is_file() and meta_file.is_file():
            try:
                meta = json.loads(meta_file.read_text())
            except (OSError, ValueError):
                meta = None  # a half-written or edited file: render again
        if meta is None or not {"coin", "sku", "length_mm", "background"} <= set(meta):
            arrays = arrays or load_arrays()
            photo = render_index(arrays, "search", 777, i, StudioConfig(width=1280, height=960))
            assert photo.jpeg is not None and photo.sku is not None
            meta = {
                "coin": photo.meta["coin"]["type"],
                "sku": photo.sku.id,
                "length_mm": photo.meta["length_mm"],
                "background": photo.meta["background"],
            }
            for target, data in ((p, photo.jpeg), (meta_file, json.dumps(meta).encode())):
                tmp = target.with_suffix(".tmp")
                tmp.write_bytes(data)
                tmp.replace(target)
        label = f"{meta['sku']}, {meta['length_mm']:g} mm, {meta['background']} background, {meta['coin'].replace('_', ' ')}"
        found.append(ExamplePhoto(str(p), str(meta["coin"]), label))
    return found
