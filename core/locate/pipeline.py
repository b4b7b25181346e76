"""Segment -> pose -> measure on one photo: every screw located, turned head-up and measured with the coin."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

from core.errors import ConfigError, NoCoinFoundError, NoScrewFoundError
from core.measure import (
    DEFAULT_COIN,
    CoinScale,
    coin_disc,
    coin_scale,
    head_height_px,
    length_px_along_axis,
    measure_screw,
    shank_diameter_px,
)
from core.pose.canonical import CanonicalScrew, canonicalize
from core.pose.geometry import axis_from_mask, head_side
from core.segment.predictor import (
    DEFAULT_INFER_SIZE,
    DEFAULT_THRESHOLD,
    Segmentation,
    Segmenter,
    check_image,
)
from core.segment.refine import GrabCutConfig, grabcut_refine

__all__ = ["LocateConfig", "ScrewResult", "LocateResult", "Locator", "touches_border", "matching_screw"]


@dataclass(frozen=True)
class LocateConfig:
    """Pipeline settings.

    Attributes:
        coin: reference coin (a key of core.measure.COIN_DIAMETERS_MM).
        square_aspect: below this long/short ratio of the screw's rectangle, RotationNet decides the angle.
        use_rotationnet: set False to always use the rectangle + half areas.
        rotationnet_direction: on elongated screws too (aspect >= ``square_aspect``), RotationNet decides which
            end of the rectangle's axis is the head, instead of the half areas. Chosen on validation photos
            with the shipped segmenter's masks (long screws: head side 0.898 -> 0.916; with exact masks both
            0.981).
        coin_disc: redraw each coin mask as its fitted ellipse when the fit is good (smooth edge, better
            scale); the segmentation in the result then holds the redrawn masks.
        coin_robust: when a coin blob's whole outline is no ellipse, fit one through the part of it that is
            (:func:`core.measure.coin.fit_ellipse_robust`: a coin with its shadow attached). Validation (200
            photos of seed 500,011, 512x384): coin IoU 0.909 -> 0.946; search SKU top-1 / top-5 on 500
            validation photos 0.780 / 0.854 -> 0.788 / 0.858.
        max_coins: keep at most this many coin blobs (0 = all; 1 = the reference coin only, chosen on the
            validation photos: other round things called "coin" go), the most coin-like first: blobs an ellipse
            fits before the others, then by mean coin probability. The first one gives the scale.
        size_rel_std: relative std added to the measured length and diameter for the mask's own error. 0.12 is
            the spread of the shipped segmenter's length errors on validation photos (median |error| 8 %,
            10-90 %: -22 %..+26 %; quantisation and the coin's scale alone give ~0.4 %). The search ranking
            reads it as the size's tolerance (validation SKU top-1 / top-5 0.317 / 0.420 -> 0.410 / 0.530).
            Set 0 for exact masks.
        overall_rel_std: the same for the OVERALL length (head to tip), which needs no head height read off the
            mask: on 480 validation photos (seeds 4,500,000 / 4,600,000) its log error against nominal + head
            allowance (:mod:`core.measure.head_allowance`) has a robust std of 0.055, the nominal length's 0.103.
            Search ranking there, top-1 / top-5: 0.706 / 0.814 with 0.12, 0.724 / 0.820 with 0.06.
        refine_edges: move each screw mask's outline onto the photo's edges with GrabCut seeded by the
            segmenter's probabilities (:func:`core.segment.refine.grabcut_refine`, ~50-100 ms a screw at
            960x720). Chosen on validation crops: head accuracy 0.559 -> 0.671, tip 0.527 -> 0.660 on the
            pipeline's own crops. Set False for exact (oracle) masks.
        grabcut: the refinement's settings.
        verify_min: with a blob verifier (:mod:`core.segment.verify`), screw blobs it gives a lower probability
            of being a screw are dropped (clutter: dowels, pens, nuts).
        verify_keep_best: when the verifier drops every blob, keep the one it likes best anyway (a screw the
            verifier doubts is more use to a user than "no screw found"; False answers NoScrewFoundError).
        view_reaches: with ``refine_edges``, each screw is also cut with GrabCut at these ``reach`` values
            (:class:`core.segment.refine.GrabCutConfig`) and turned head-up the same way: extra canonical views
            in ``ScrewResult.views`` (the search averages its classifiers over them; the sizes, pose and
            polygon come from the main mask). Empty = none (the default: measurement alone needs none).
    """

    coin: str = DEFAULT_COIN
    square_aspect: float = 1.3
    use_rotationnet: bool = True
    rotationnet_direction: bool = True
    coin_disc: bool = True
    coin_robust: bool = True
    max_coins: int = 1
    size_rel_std: float = 0.12
    overall_rel_std: float = 0.06
    refine_edges: bool = True
    grabcut: GrabCutConfig = field(default_factory=GrabCutConfig)
    verify_min: float = 0.5
    verify_keep_best: bool = True
    view_reaches: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        if any(r < 0 for r in self.view_reaches):
            raise ConfigError(
                f"view_reaches are GrabCut reaches in blob widths (>= 0), got {self.view_reaches}",
                field="view_reaches",
            )
        for name in ("size_rel_std", "overall_rel_std"):
            v = getattr(self, name)
            if not 0.0 <= v < 1.0:
                raise ConfigError(f"{name} is a relative std in [0, 1), got {v}", field=name)
        if self.max_coins < 0:
            raise ConfigError(
                f"max_coins must be >= 0 (0 = keep all), got {self.max_coins}", field="max_coins"
            )
        if not 0.0 <= self.verify_min <= 1.0:
            raise ConfigError(
                f"verify_min is a probability in [0, 1], got {self.verify_min}", field="verify_min"
            )
        if self.square_aspect < 1.0:
            raise ConfigError(
                f"square_aspect is a long/short ratio and must be >= 1, got {self.square_aspect}",
                field="square_aspect",
            )


@dataclass
class ScrewResult:
    """One screw. Sizes in mm are None when unavailable; ``reasons`` then says why.

    ``length_px`` is the overall extent along the axis; ``length_mm`` is the NOMINAL length, as catalogs
    give it: under the head, except for countersunk heads. ``nominal_from`` says how the head was taken off:
    ``"head classifier"`` (the locator's :class:`core.locate.head.HeadReader`: overall length minus the
    expected head allowance, whose spread over the likely head types is in ``length_mm_std``) or ``"mask"``
    (``length_px - head_px`` unless the mask's head narrows like a cone, ``countersunk``).
    ``mask_confidence`` is the segmenter's mean screw probability over the mask (distractors score lower);
    ``verify_score`` the blob verifier's probability that the blob is a screw (None without a verifier).
    ``views``: the same screw cut from other GrabCut masks (``LocateConfig.view_reaches``), head-up with this
    screw's pose; empty unless asked for.
    """

    polygon: list[list[float]]
    center: tuple[float, float]
    angle_deg: float
    angle_method: str
    head_confidence: float
    length_px: float
    diameter_px: float
    length_mm: float | None
    length_mm_std: float | None
    diameter_mm: float | None
    diameter_mm_std: float | None
    cut_by_border: bool
    mask: NDArray[np.bool_]
    canonical: CanonicalScrew
    reasons: dict[str, str] = field(default_factory=dict)
    head_px: float = 0.0
    countersunk: bool = False
    mask_confidence: float = 1.0
    overall_length_mm: float | None = None
    overall_length_mm_std: float | None = None
    verify_score: float | None = None
    views: list[CanonicalScrew] = field(default_factory=list)
    nominal_from: str = "mask"

    def to_json(self) -> dict[str, Any]:
        keys = (
            "polygon",
            "center",
            "angle_deg",
            "angle_method",
            "head_confidence",
            "length_px",
            "diameter_px",
            "length_mm",
            "length_mm_std",
            "diameter_mm",
            "diameter_mm_std",
            "cut_by_border",
            "reasons",
            "head_px",
            "countersunk",
            "mask_confidence",
            "overall_length_mm",
            "overall_length_mm_std",
            "verify_score",
            "nominal_from",
        )
        out = {k: getattr(self, k) for k in keys}
        out["head_side"] = "head is at angle_deg (tip->head direction, clockwise from image-up)"
        return out


@dataclass
class LocateResult:
    """All screws (largest first), the coin scale or the reason it is unavailable, and the segmentation."""

    screws: list[ScrewResult]
    coin: CoinScale | None
    coin_reason: str | None
    segmentation: Segmentation

    def to_json(self) -> dict[str, Any]:
        coin: dict[str, Any] | None = None
        if self.coin is not None:
            c = self.coin
            coin = {
                "center": [c.circle.cx, c.circle.cy],
                "radius": c.circle.r,
                "px_per_mm": c.px_per_mm,
                "px_per_mm_std": c.px_per_mm_std,
                "coin": c.coin,
                "diameter_mm": c.diameter_mm,
            }
        return {
            "coordinates": "XY pixels of the input photo; angles clockwise from image-up, tip->head",
            "screws": [s.to_json() for s in self.screws],
            "coin": coin,
            "coin_reason": self.coin_reason,
        }


def matching_screw(
    screws: list[ScrewResult], truth: NDArray[np.bool_], min_iou: float = 0.5
) -> ScrewResult | None:
    """The found screw whose mask overlaps a true mask best, if that IoU is at least ``min_iou`` (else None):
    how training and calibration code pairs the pipeline's screw with the studio's."""
    best, best_iou = None, min_iou
    for s in screws:
        iou = float((s.mask & truth).sum()) / max(float((s.mask | truth).sum()), 1.0)
        if iou >= best_iou:
            best, best_iou = s, iou
    return best


def touches_border(mask: NDArray[np.bool_]) -> bool:
    """True when the mask reaches the outermost row or column of the photo."""
    return bool(mask[0].any() or mask[-1].any() or mask[:, 0].any() or mask[:, -1].any())


def _polygon(mask: NDArray[np.bool_]) -> list[list[float]]:
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    cnt = max(contours, key=cv2.contourArea)
    approx = cv2.approxPolyDP(cnt, 1.0, True).reshape(-1, 2)
    return [[float(x), float(y)] for x, y in approx]


class Locator:
    """The full pipeline around a :class:`Segmenter` and an optional RotationNet. Stateless per photo.

    ``verifier``: a blob verifier (:mod:`core.segment.verify`) that drops clutter blobs. ``head_reader``: a
    :class:`core.locate.head.HeadReader` that takes the nominal length off the overall one by the head type
    (without one, the head is read off the mask; see :class:`ScrewResult`).
    """

    def __init__(
        self,
        segmenter: Segmenter,
        rotationnet: Any | None = None,
        config: LocateConfig | None = None,
        verifier: Any | None = None,
        head_reader: Any | None = None,
    ):
        self.segmenter = segmenter
        self.rotationnet = rotationnet
        self.config = config or LocateConfig()
        self.verifier = verifier
        self.head_reader = head_reader

    def with_config(self, **changes: Any) -> Locator:
        """The same models with some settings changed, e.g. ``with_config(coin="us_quarter")`` per photo."""
        return Locator(
            self.segmenter, self.rotationnet, replace(self.config, **changes), self.verifier, self.head_reader
        )

    @classmethod
    def from_files(
        cls,
        segmenter_path: str | Path,
        rotationnet_path: str | Path | None = None,
        config: LocateConfig | None = None,
        infer_size: int = DEFAULT_INFER_SIZE,
        threads: int | None = 2,
        threshold: float = DEFAULT_THRESHOLD,
        refine_zoom: float = 1.0,
        verifier_path: str | Path | None = None,
        head_reader: Any | None = None,
    ) -> Locator:
        """Load the checkpoints (CheckpointError names the file when one is missing or wrong).

        ``refine_zoom`` > 1 runs each screw again at that zoom over the first pass (see
        :class:`core.segment.Segmenter`). ``verifier_path``: a blob verifier (:mod:`core.segment.verify`).
        ``head_reader``: see the class (:func:`core.locate.head.load_head_reader` loads the shipped one).
        """
        from core.segment.model import load_segmenter

        rn = None
        if rotationnet_path is not None:
            from core.checkpoints import build_from_checkpoint
            from core.pose.rotationnet import create_rotationnet

            rn = build_from_checkpoint(rotationnet_path, create_rotationnet).eval()
        ver = None
        if verifier_path is not None:
            from core.segment.verify import load_verifier

            ver = load_verifier(verifier_path)
        return cls(
            Segmenter(
                load_segmenter(segmenter_path),
                infer_size=infer_size,
                threshold=threshold,
                threads=threads,
                refine_zoom=refine_zoom,
            ),
            rn,
            config,
            ver,
            head_reader,
        )

    def _screw(
        self,
        image: NDArray[np.uint8],
        mask: NDArray[np.bool_],
        scale: CoinScale | None,
        confidence: float,
        verify_score: float | None = None,
        view_masks: list[NDArray[np.bool_]] | None = None,
    ) -> ScrewResult:
        axis = axis_from_mask(mask)
        angle, conf = head_side(mask, axis)
        method = "rectangle"
        square = axis.aspect < self.config.square_aspect
        if (
            self.rotationnet is not None
            and self.config.use_rotationnet
            and (square or self.config.rotationnet_direction)
        ):
            from core.pose.rotationnet import predict_angle

            rn_angle = predict_angle(self.rotationnet, image, mask)
            if square:
                angle, method = rn_angle, "rotationnet"
            else:
                # The rectangle gives the axis; RotationNet, which sees the photo and not only the mask,
                # says which end is the head.
                if abs((angle - rn_angle + 180.0) % 360.0 - 180.0) > 90.0:
                    angle = (angle + 180.0) % 360.0
                method = "rectangle+rotationnet"
        can = canonicalize(image, mask, axis.center, angle, axis.length_px)
        views = [canonicalize(image, m, axis.center, angle, axis.length_px) for m in view_masks or []]
        length_px = length_px_along_axis(mask, angle)
        diameter_px = shank_diameter_px(can.mask, can.body_rows)
        head = head_height_px(can.mask, can.head_rows)
        # Catalog lengths are nominal: under the head, except for countersunk heads.
        nominal_px = length_px if head.countersunk else max(length_px - head.height_px, 1.0)
        nominal_from, head_sd_px = "mask", 0.0
        if self.head_reader is not None:
            from core.measure.head_allowance import nominal_from_overall

            probs = self.head_reader.probs(can)
            nominal_px, head_sd_px = nominal_from_overall(
                length_px, diameter_px, probs, self.head_reader.allowance
            )
            nominal_px, nominal_from = max(nominal_px, 1.0), "head classifier"
        ppm, ppm_std = (scale.px_per_mm, scale.px_per_mm_std) if scale else (None, 0.0)
        size = measure_screw(nominal_px, diameter_px, ppm, ppm_std, mask_rel_std=self.config.size_rel_std)
        # The overall extent in mm too: the search scores it against each SKU's nominal length + head allowance.
        overall = measure_screw(
            length_px, diameter_px, ppm, ppm_std, mask_rel_std=self.config.overall_rel_std
        )
        reasons: dict[str, str] = {}
        cut = touches_border(mask)
        length_mm, length_std = size.length_mm, size.length_mm_std
        if ppm is not None and length_std is not None:
            length_std = math.hypot(length_std, head_sd_px / ppm)
        overall_mm, overall_std = overall.length_mm, overall.length_mm_std
        if scale is None:
            reasons["length_mm"] = reasons["diameter_mm"] = "no coin found: no scale to convert pixels to mm"
        elif cut:
            length_mm = length_std = overall_mm = overall_std = None
            reasons["length_mm"] = "screw is cut by the image border: its full length is not in the photo"
        return ScrewResult(
            polygon=_polygon(mask),
            center=axis.center,
            angle_deg=float(angle),
            angle_method=method,
            head_confidence=float(conf),
            length_px=length_px,
            diameter_px=diameter_px,
            length_mm=length_mm,
            length_mm_std=length_std,
            diameter_mm=size.diameter_mm,
            diameter_mm_std=size.diameter_mm_std,
            cut_by_border=cut,
            mask=mask,
            canonical=can,
            reasons=reasons,
            head_px=head.height_px,
            countersunk=head.countersunk,
            mask_confidence=confidence,
            overall_length_mm=overall_mm,
            overall_length_mm_std=overall_std,
            verify_score=verify_score,
            views=views,
            nominal_from=nominal_from,
        )

    def _rank_coins(self, seg: Segmentation, coins: list[NDArray[np.bool_]]) -> list[NDArray[np.bool_]]:
        """Coin blobs, most coin-like first (disc-shaped, then mean probability), redrawn as discs when asked
        and cut to ``max_coins``."""
        ranked = []
        for m in coins:
            disc = coin_disc(m, robust=self.config.coin_robust)
            score = _mean_prob(seg, "coin", m)
            keep = disc if (disc is not None and self.config.coin_disc) else m
            ranked.append((disc is not None, score, keep))
        ranked.sort(key=lambda t: (not t[0], -t[1]))
        out = [m for _, _, m in ranked]
        return out[: self.config.max_coins] if self.config.max_coins > 0 else out

    def screw_blobs(self, image: NDArray[np.uint8]) -> Segmentation:
        """The segmentation with each screw blob's outline refined (when ``refine_edges``): the blobs the
        rest of the pipeline (and the verifier's training data) sees."""
        return self._blobs(image)[0]

    def _grabcut_config(self, seg: Segmentation) -> GrabCutConfig:
        gc = self.config.grabcut
        if gc.ring and seg.scale < 1.0:
            gc = replace(gc, ring=0)  # the blob was upsampled from a coarser pass: GrabCut's cut alone
        return gc

    def _blobs(self, image: NDArray[np.uint8]) -> tuple[Segmentation, list[NDArray[np.bool_]]]:
        """The refined segmentation and the screw blobs as the segmenter gave them (same order)."""
        seg = self.segmenter.predict(image)
        raw = screws = seg.instances.get("screw", [])
        if screws and self.config.refine_edges:
            p = seg.probs[seg.classes.index("screw")]
            gc = self._grabcut_config(seg)
            screws = [grabcut_refine(image, p, m, gc) for m in screws]
            seg = replace(seg, instances={**seg.instances, "screw": screws})
        return seg, raw

    def _view_masks(
        self, image: NDArray[np.uint8], seg: Segmentation, raw: NDArray[np.bool_]
    ) -> list[NDArray[np.bool_]]:
        """One blob cut again at each of ``view_reaches`` (none without ``refine_edges``)."""
        if not self.config.refine_edges:
            return []
        p = seg.probs[seg.classes.index("screw")]
        gc = self._grabcut_config(seg)
        return [grabcut_refine(image, p, raw, replace(gc, reach=r)) for r in self.config.view_reaches]

    def locate(self, image: NDArray[np.uint8]) -> LocateResult:
        """Locate, orient and measure every screw in a (H, W, 3) uint8 RGB photo.

        Raises:
            InputError: not an RGB uint8 image, or smaller than 16 px.
            NoScrewFoundError: the segmenter found no screw.
        """
        check_image(image)
        seg, raw = self._blobs(image)
        screws = seg.instances.get("screw", [])
        scores: list[float | None] = [None] * len(screws)
        if screws and self.verifier is not None:
            keep, scores = self._verified(image, seg, screws)
            screws, raw = [screws[i] for i in keep], [raw[i] for i in keep]
            seg = replace(seg, instances={**seg.instances, "screw": screws})
        views = [self._view_masks(image, seg, r) for r in raw]
        if not screws:
            raise NoScrewFoundError(
                "no screw found in the photo; put the screw flat on a plain background, in focus, filling "
                "at least a tenth of the frame"
            )
        scale: CoinScale | None = None
        reason: str | None = None
        coins = seg.instances.get("coin", [])
        if coins:
            coins = self._rank_coins(seg, coins)
            seg = replace(seg, instances={**seg.instances, "coin": coins})
        if coins:
            try:
                scale = coin_scale(coins[0], self.config.coin)
            except NoCoinFoundError as e:
                reason = e.message
        else:
            reason = "no coin found: add a coin beside the screw to get sizes in mm"
        found = [
            self._screw(image, m, scale, _mean_prob(seg, "screw", m), v, vm)
            for m, v, vm in zip(screws, scores, views, strict=True)
        ]
        return LocateResult(found, scale, reason, seg)

    def _verified(
        self, image: NDArray[np.uint8], seg: Segmentation, screws: list[NDArray[np.bool_]]
    ) -> tuple[list[int], list[float | None]]:
        """The indices of the blobs the verifier calls screws (largest first, as the segmenter gave them) and
        their scores."""
        from core.segment.verify import verify_blobs

        assert self.verifier is not None
        p = verify_blobs(self.verifier, image, seg.probs[seg.classes.index("screw")], screws)
        keep = [i for i, v in enumerate(p) if v >= self.config.verify_min]
        if not keep and self.config.verify_keep_best:
            keep = [int(np.argmax(p))]
        return keep, [p[i] for i in keep]


def _mean_prob(seg: Segmentation, cls: str, mask: NDArray[np.bool_]) -> float:
    """Mean probability of class ``cls`` over ``mask`` (0 when the segmenter has no such class or the mask is
    empty): how sure the segmenter is of a blob, used to rank coins and screws."""
    if cls not in seg.classes or not mask.any():
        return 0.0
    return float(seg.probs[seg.classes.index(cls)][mask].mean())
