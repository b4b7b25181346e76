"""Settings and results of the locate pipeline (:class:`core.locate.pipeline.Locator`), and two mask helpers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from core.errors import ConfigError
from core.measure import DEFAULT_COIN, CoinScale
from core.pose.canonical import CanonicalScrew
from core.segment.edgenet import EDGE_VIEWS
from core.segment.predictor import Segmentation
from core.segment.refine import GrabCutConfig

__all__ = ["LocateConfig", "ScrewResult", "LocateResult", "touches_border", "matching_screw"]


@dataclass(frozen=True)
class LocateConfig:
    """Pipeline settings.

    Attributes:
        coin: reference coin (a key of core.measure.COIN_DIAMETERS_MM).
        square_aspect: below this long/short ratio of the screw's rectangle, RotationNet decides the angle (its
            own peak when ``symmetry_below`` is off; else one of the candidate directions, see there).
        use_rotationnet: set False to always use the rectangle + half areas.
        symmetry_below: below this rectangle aspect the screw's axis is the line its mask is mirror-symmetric
            about (:func:`core.pose.geometry.symmetry_axis`; the minimum-area rectangle of a short screw with a
            wide head is tilted off its axis, by 20-25 deg in validation photos), the half areas then choosing
            the head's end. With a RotationNet, the pose is the one of four candidate directions (either end of
            the mirror line or of the rectangle's axis) that RotationNet backs most
            (:func:`core.pose.rotationnet.direction_mass` within ``rotationnet_window_deg``): on squat screws
            RotationNet's own peak was 100-120 deg off in photos where one of those four was right. 0 = off.
            Validation (RotationNet card, "Session 14"): search photos with the angle over 20 deg off 11 -> 7
            of 497, SKU top-1 / top-5 0.902 / 0.944 -> 0.910 / 0.952; head side 0.980 -> 0.985 (200 photos
            512x384); 3.0 instead of 1.5: head side 0.980, short screws 0.93 / 0.93 vs 0.94 / 0.93.
        rotationnet_window_deg: how far (degrees) from a candidate direction RotationNet's probability counts
            for it.
        rotationnet_direction: on elongated screws too (aspect >= ``square_aspect``), RotationNet decides which
            end of the rectangle's axis is the head, instead of the half areas. Chosen on validation photos
            with the shipped segmenter's masks (long screws: head side 0.898 -> 0.916; with exact masks both
            0.981).
        headend_flip_below: with a HeadEndNet (:mod:`core.pose.headend`) given to the locator, a screw is turned
            round when the network's probability that the head is at the end the pose above chose is below this
            (it reads the photo along the whole axis, past the mask's ends, so it sees a head the mask missed).
            0 = off. Chosen on validation photos (models/rotationnet/headend.md).
        coin_disc: redraw each coin mask as its fitted ellipse when the fit is good (smooth edge, better
            scale); the segmentation in the result then holds the redrawn masks.
        coin_robust: when a coin blob's whole outline is no ellipse, fit one through the part of it that is
            (:func:`core.measure.coin.fit_ellipse_robust`: a coin with its shadow attached). Validation (200
            photos of seed 500,011, 512x384): coin IoU 0.909 -> 0.946; search SKU top-1 / top-5 on 500
            validation photos 0.780 / 0.854 -> 0.788 / 0.858.
        coin_edges: move the reference coin's outline (a redrawn disc) onto the photo's own edges
            (:func:`core.measure.coin_edges.refine_ellipse_on_edges`), and take the scale and the coin's mask from
            that ellipse. Validation, see the function: coin IoU 0.948 -> 0.961 (512x384) and 0.958 -> 0.978
            (1280x960); median scale error 2.5 % -> 0.7 % and 1.4 % -> 0.3 %. With a CoinEdgeNet (the locator's
            ``coin_edgenet``) the edge is where that network reads it (:mod:`core.measure.coin_edgenet`).
        coin_edges_fallback: when the CoinEdgeNet's fit is refused, try the strongest colour step before the
            mask's own circle.
        coin_edge_passes: CoinEdgeNet's passes (each reads the profiles around the last ellipse).
        coin_ragged_rms: CoinEdgeNet also starts from a coin blob whose ellipse fits it within this share of its
            long semi-axis (RMS; the colour step only within 1 px): a coin drawn at 512 px for a 1280 px photo
            fits within 0.02-0.06, a coin merged with a finger or gravel does not (validation: 0.31 for one that
            got worse from its ellipse; see models/measure/coin_edgenet.md).
        coin_affine: with an edge-fitted coin, convert lengths along the screw's axis and diameters across it
            with the scale in that direction (:meth:`core.measure.coin.CoinScale.px_per_mm_along`: a tilted
            camera draws the coin as an ellipse) instead of the mean scale.
        mask_oversize_px: with an edge-fitted coin (whose ellipse lies on the coin's edge itself), this is taken
            off each screw's length and diameter in pixels first: masks are rasterised like the labels
            (``cv2.fillPoly``: every pixel the outline touches), about one pixel longer and wider than the
            outline. (The coin fitted on its mask, the fallback, carries the same extra pixel, so then nothing
            is taken off.)
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
        grabcut: the refinement's settings. One GrabCut iteration here, not the function's 3: EdgeNet redraws
            the outline after it, and on 200 validation photos (seed 500,011, 512x384) screw IoU was the same
            (0.902 with 1 or 3) while locate took ~22 ms less (session 13).
        verify_min: with a blob verifier (:mod:`core.segment.verify`), screw blobs it gives a lower probability
            of being a screw are dropped (clutter: dowels, pens, nuts).
        verify_keep_best: when the verifier drops every blob, keep the one it likes best anyway (a screw the
            verifier doubts is more use to a user than "no screw found"; False answers NoScrewFoundError).
        view_reaches: with ``refine_edges``, each screw is also cut with GrabCut at these ``reach`` values
            (:class:`core.segment.refine.GrabCutConfig`) and turned head-up the same way: extra canonical views
            in ``ScrewResult.views`` (the search averages its classifiers over them; the sizes, pose and
            polygon come from the main mask). Empty = none (the default: measurement alone needs none).
        use_edgenet: with an EdgeNet (:mod:`core.segment.edgenet`) given to the locator, each screw's main mask
            is redrawn by it after GrabCut (the extra views are not; nor are masks when ``refine_edges`` is off,
            e.g. exact ones). Set False to compare without it.
        edgenet_views: EdgeNet's logits averaged over the crop and its mirrors (1, 2 or 4 views:
            :func:`core.segment.edgenet.edge_logits`). Validation (200 photos of seed 500,011, 512x384, one
            GrabCut iteration): screw IoU 0.902 / 0.905 / 0.906 with 1 / 2 / 4 views, locate 94 / 105 / 138 ms
            (median of 30 photos); 2 keeps issue 4's 150 ms. See the segmenter's card, "Session 13".
        edgenet_min_hole: holes in EdgeNet's outline of at least this share of the screw's area (and 9 px)
            are kept (the ring of an eye bolt); smaller ones are filled as noise. 0 fills every hole (until
            session 16). Validation (200 photos of seed 500,011, 512x384): screw IoU 0.905 -> 0.910, every other
            figure and the search's SKU ranking (500 photos 1280x960) unchanged; 0.005 gives the same. See the
            segmenter's card, "Session 16".
        second_look_zoom: when the segmenter finds no screw, or the verifier doubts every blob (below
            ``verify_min``), the segmenter looks again at this zoom over its first pass, in tiles
            (:meth:`core.segment.Segmenter.predict_tiled`: small screws and screws on busy backgrounds), and the
            look whose best blob the verifier likes more is kept; the second look keeps only blobs the verifier
            accepts and none over a tenth of the photo. 1 = off. Costs ~6 first passes, only then.
        click_reach: with a click (:meth:`core.locate.Locator.locate`), a screw blob this share of the photo's
            longer side from the clicked pixel still counts as clicked (a click on a thin shank's edge).
        click_max_area: with a click, a cut region larger than this share of the photo is refused (the
            background was clicked): the segmenter's blob at the click serves instead, or the click is refused.
        click_verify_below: with a click and a blob verifier, a cut the verifier scores below this is replaced
            by the segmenter's blob at the click when there is one (0 = never). Validation (100 photos of seed
            4,500,000, one click at a random pixel of the screw each): SKU top-5 0.90 -> 0.93 (3 cuts that ran
            into the background or a neighbour replaced, none lost); see the segmenter card, "Session 15".
    """

    coin: str = DEFAULT_COIN
    square_aspect: float = 1.3
    symmetry_below: float = 1.5
    rotationnet_window_deg: float = 15.0
    use_rotationnet: bool = True
    rotationnet_direction: bool = True
    headend_flip_below: float = 0.5
    coin_disc: bool = True
    coin_robust: bool = True
    coin_edges: bool = True
    coin_edges_fallback: bool = True
    coin_edge_passes: int = 3
    coin_ragged_rms: float = 0.1
    coin_affine: bool = True
    mask_oversize_px: float = 1.0
    max_coins: int = 1
    size_rel_std: float = 0.12
    overall_rel_std: float = 0.06
    refine_edges: bool = True
    grabcut: GrabCutConfig = field(default_factory=lambda: GrabCutConfig(iterations=1))
    verify_min: float = 0.5
    verify_keep_best: bool = True
    view_reaches: tuple[float, ...] = ()
    use_edgenet: bool = True
    edgenet_views: int = 2
    edgenet_min_hole: float = 0.02
    second_look_zoom: float = 2.0
    click_reach: float = 0.02
    click_max_area: float = 0.25
    click_verify_below: float = 0.1

    def __post_init__(self) -> None:
        if not 1.0 <= self.second_look_zoom <= 4.0:
            raise ConfigError(
                f"second_look_zoom is a zoom in [1, 4] (1 = off), got {self.second_look_zoom}",
                field="second_look_zoom",
            )
        if not 0.0 <= self.click_reach <= 1.0:
            raise ConfigError(
                f"click_reach is a share of the photo's longer side in [0, 1], got {self.click_reach}",
                field="click_reach",
            )
        if not 0.0 < self.click_max_area <= 1.0:
            raise ConfigError(
                f"click_max_area is a share of the photo in (0, 1], got {self.click_max_area}",
                field="click_max_area",
            )
        if not 0.0 <= self.click_verify_below <= 1.0:
            raise ConfigError(
                f"click_verify_below is a verifier probability in [0, 1], got {self.click_verify_below}",
                field="click_verify_below",
            )
        if self.edgenet_views not in EDGE_VIEWS:
            raise ConfigError(
                f"edgenet_views is one of {EDGE_VIEWS} (the crop and its mirrors), got {self.edgenet_views}",
                field="edgenet_views",
            )
        if not 0.0 <= self.edgenet_min_hole < 1.0:
            raise ConfigError(
                f"edgenet_min_hole is a share of the screw's area in [0, 1), got {self.edgenet_min_hole}",
                field="edgenet_min_hole",
            )
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
        if not 0.0 < self.rotationnet_window_deg <= 90.0:
            raise ConfigError(
                f"rotationnet_window_deg is an angle in (0, 90], got {self.rotationnet_window_deg}",
                field="rotationnet_window_deg",
            )
        if not 0.0 <= self.headend_flip_below <= 1.0:
            raise ConfigError(
                f"headend_flip_below is a probability in [0, 1], got {self.headend_flip_below}",
                field="headend_flip_below",
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
    screw's pose; empty unless asked for. ``angle_method`` says where the axis and the head's end came from:
    ``rectangle`` (minimum-area rectangle, half areas), ``symmetry`` (the mask's mirror line, squat screws),
    either ``+rotationnet`` (RotationNet chose among the candidate directions), or ``rotationnet`` (its own
    angle: short screws when ``LocateConfig.symmetry_below`` is off); ``+headend`` when the HeadEndNet turned the
    screw round (``LocateConfig.headend_flip_below``).
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
    """All screws (largest first), the coin scale or the reason it is unavailable, and the segmentation;
    ``click``: the (x, y) a person clicked the one screw at (:meth:`core.locate.Locator.locate`), else None."""

    screws: list[ScrewResult]
    coin: CoinScale | None
    coin_reason: str | None
    segmentation: Segmentation
    click: tuple[float, float] | None = None

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
                "fit": c.circle.method,
            }
            if c.ellipse is not None:  # a tilted camera: scale differs along the axes
                coin["ellipse"] = {
                    "semi_axes_px": [c.ellipse.a, c.ellipse.b],
                    "angle_deg": c.ellipse.angle_deg,
                    "note": "angle of the long semi-axis, OpenCV's convention (clockwise from +x)",
                }
        return {
            "coordinates": "XY pixels of the input photo; angles clockwise from image-up, tip->head",
            "screws": [s.to_json() for s in self.screws],
            "coin": coin,
            "coin_reason": self.coin_reason,
            "click": None if self.click is None else [self.click[0], self.click[1]],
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
