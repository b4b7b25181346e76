"""Segment -> pose -> measure on one photo: every screw located, turned head-up and measured with the coin."""

from __future__ import annotations

import copy
import math
from dataclasses import replace
from pathlib import Path
from typing import Any, NamedTuple

import cv2
import numpy as np
import torch
from numpy.typing import NDArray

from core.errors import NoCoinFoundError, NoScrewFoundError
from core.locate.click import check_click, clicked_screw
from core.locate.coin import mean_prob, rank_coins, reference_scale
from core.locate.types import LocateConfig, LocateResult, ScrewResult, matching_screw, touches_border
from core.measure import (
    CoinScale,
    head_height_px,
    length_px_along_axis,
    measure_screw,
    shank_diameter_px,
)
from core.measure.head_allowance import nominal_from_overall
from core.pose.canonical import canonicalize
from core.pose.geometry import axis_from_mask, head_side, symmetry_axis
from core.segment.predictor import (
    DEFAULT_INFER_SIZE,
    DEFAULT_THRESHOLD,
    Segmentation,
    Segmenter,
    check_image,
)
from core.segment.refine import GrabCutConfig, grabcut_refine

__all__ = ["LocateConfig", "ScrewResult", "LocateResult", "Locator", "touches_border", "matching_screw"]


def _polygon(mask: NDArray[np.bool_]) -> list[list[float]]:
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    cnt = max(contours, key=cv2.contourArea)
    approx = cv2.approxPolyDP(cnt, 1.0, True).reshape(-1, 2)
    return [[float(x), float(y)] for x, y in approx]


class Locator:
    """The full pipeline around a :class:`Segmenter` and an optional RotationNet. Stateless per photo.

    ``verifier``: a blob verifier (:mod:`core.segment.verify`) that drops clutter blobs. ``head_reader``: a
    :class:`core.locate.head.HeadReader` that takes the nominal length off the overall one by the head type
    (without one, the head is read off the mask; see :class:`ScrewResult`). ``edgenet``: an
    :class:`core.segment.edgenet.EdgeNet` that redraws each screw's outline after GrabCut. ``coin_edgenet``: a
    :class:`core.measure.coin_edgenet.CoinEdgeNet` that finds the coin's edge (``config.coin_edges``; without
    one, the strongest colour step). ``headend``: a :class:`core.pose.headend.HeadEndNet` that turns a screw round
    when it sees the head at the other end (``config.headend_flip_below``).
    """

    def __init__(
        self,
        segmenter: Segmenter,
        rotationnet: Any | None = None,
        config: LocateConfig | None = None,
        verifier: Any | None = None,
        head_reader: Any | None = None,
        edgenet: Any | None = None,
        coin_edgenet: Any | None = None,
        headend: Any | None = None,
    ):
        from core.device import inference_layout

        def ready(m: Any) -> Any:  # eval mode, channels-last weights (EdgeNet ~2x faster on CPU)
            return inference_layout(m) if isinstance(m, torch.nn.Module) else m

        self.segmenter = segmenter
        self.rotationnet = ready(rotationnet)
        self.config = config or LocateConfig()
        self.verifier = ready(verifier)
        self.head_reader = head_reader
        self.edgenet = ready(edgenet)
        self.coin_edgenet = ready(coin_edgenet)
        self.headend = ready(headend)

    def with_config(self, **changes: Any) -> Locator:
        """The same models with some settings changed, e.g. ``with_config(coin="us_quarter")`` per photo."""
        out = copy.copy(self)  # the models are shared, not prepared again
        out.config = replace(self.config, **changes)
        return out

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
        edgenet_path: str | Path | None = None,
        coin_edgenet_path: str | Path | None = None,
        headend_path: str | Path | None = None,
    ) -> Locator:
        """Load the checkpoints (CheckpointError names the file when one is missing or wrong).

        ``refine_zoom`` > 1 runs each screw again at that zoom over the first pass (see
        :class:`core.segment.Segmenter`). ``verifier_path``: a blob verifier (:mod:`core.segment.verify`).
        ``head_reader``: see the class (:func:`core.locate.head.load_head_reader` loads the shipped one).
        ``edgenet_path``: an EdgeNet file (:mod:`core.segment.edgenet`). ``coin_edgenet_path``: a CoinEdgeNet
        file (:mod:`core.measure.coin_edgenet`). ``headend_path``: a HeadEndNet file (:mod:`core.pose.headend`).
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
        edge = None
        if edgenet_path is not None:
            from core.segment.edgenet import load_edgenet

            edge = load_edgenet(edgenet_path, required=True)
        coin_edge = None
        if coin_edgenet_path is not None:
            from core.measure.coin_edgenet import load_coin_edgenet

            coin_edge = load_coin_edgenet(coin_edgenet_path, required=True)
        heads_up = None
        if headend_path is not None:
            from core.pose.headend import load_headend

            heads_up = load_headend(headend_path, required=True)
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
            edge,
            coin_edge,
            heads_up,
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
        axis = rect = axis_from_mask(mask)
        method, sym = "rectangle", None
        if axis.aspect < self.config.symmetry_below:
            # squat: the rectangle is tilted off the axis by a wide head; the mirror line is not
            axis = sym = replace(axis, axis_deg=symmetry_axis(mask)[0])
            method = "symmetry"
        angle, conf = head_side(mask, axis)
        square = axis.aspect < self.config.square_aspect
        if (
            self.rotationnet is not None
            and self.config.use_rotationnet
            and (square or self.config.rotationnet_direction)
        ):
            from core.pose.rotationnet import direction_mass, predict_probs, probs_angle

            probs = predict_probs(self.rotationnet, image, mask)
            if sym is not None:
                # Four candidate directions: either end of the mirror line and of the rectangle's axis (one of
                # them is right far more often than RotationNet's own peak on a squat screw); RotationNet, which
                # sees the photo and not only the mask, picks the one it backs most. Ties keep the half areas'
                # end of the mirror line.
                candidates = []  # (axis, method, angle, half areas' confidence)
                for a, name in ((sym, "symmetry"), (rect, "rectangle")):
                    side, side_conf = head_side(mask, a)
                    candidates += [(a, name, side, side_conf), (a, name, (side + 180.0) % 360.0, side_conf)]
                w = self.config.rotationnet_window_deg
                backing = [direction_mass(probs, c[2], w) for c in candidates]
                best = next(i for i, b in enumerate(backing) if b >= max(backing) - 1e-9)
                axis, method, angle, conf = candidates[best]
                method += "+rotationnet"
            elif square:
                angle, method = probs_angle(probs), "rotationnet"
            else:
                # The rectangle gives the axis; RotationNet says which end is the head.
                if abs((angle - probs_angle(probs) + 180.0) % 360.0 - 180.0) > 90.0:
                    angle = (angle + 180.0) % 360.0
                method += "+rotationnet"
        length_px = length_px_along_axis(mask, angle)
        if self.headend is not None and self.config.headend_flip_below > 0.0:
            from core.pose.headend import head_up_prob

            # the photo along the whole axis: a head the mask (and so RotationNet) missed is still in it
            if (
                head_up_prob(self.headend, image, mask, axis.center, angle, length_px)
                < self.config.headend_flip_below
            ):
                angle, method = (angle + 180.0) % 360.0, method + "+headend"
        can = canonicalize(image, mask, axis.center, angle, axis.length_px)
        views = [canonicalize(image, m, axis.center, angle, axis.length_px) for m in view_masks or []]
        diameter_px = shank_diameter_px(can.mask, can.body_rows)
        if scale is not None and scale.ellipse is not None:
            # the coin's outline lies on the photo's edges; a mask (the labels' rasterisation) is wider
            o = self.config.mask_oversize_px
            length_px, diameter_px = max(length_px - o, 1.0), max(diameter_px - o, 1.0)
        head = head_height_px(can.mask, can.head_rows)
        # Catalog lengths are nominal: under the head, except for countersunk heads.
        nominal_px = length_px if head.countersunk else max(length_px - head.height_px, 1.0)
        nominal_from, head_sd_px = "mask", 0.0
        if self.head_reader is not None:
            probs = self.head_reader.probs(can)
            nominal_px, head_sd_px = nominal_from_overall(
                length_px, diameter_px, probs, self.head_reader.allowance
            )
            nominal_px, nominal_from = max(nominal_px, 1.0), "head classifier"
        ppm, ppm_std, across = None, 0.0, None
        if scale is not None:
            # along the screw's axis and across it (they differ under a tilted camera, when the coin says how)
            ppm, across = scale.px_per_mm, scale.px_per_mm
            if self.config.coin_affine:
                ppm, across = scale.px_per_mm_along(angle), scale.px_per_mm_along(angle + 90.0)
            ppm_std = scale.px_per_mm_std * ppm / scale.px_per_mm
        size = measure_screw(
            nominal_px,
            diameter_px,
            ppm,
            ppm_std,
            mask_rel_std=self.config.size_rel_std,
            across_px_per_mm=across,
        )
        # The overall extent in mm too: the search scores it against each SKU's nominal length + head allowance.
        overall = measure_screw(
            length_px,
            diameter_px,
            ppm,
            ppm_std,
            mask_rel_std=self.config.overall_rel_std,
            across_px_per_mm=across,
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

    def screw_blobs(self, image: NDArray[np.uint8]) -> Segmentation:
        """The segmentation with each screw blob's outline refined (when ``refine_edges``): the blobs the
        rest of the pipeline (and the verifier's training data) sees."""
        return self._blobs(image)[0]

    def _grabcut_config(self, seg: Segmentation) -> GrabCutConfig:
        gc = self.config.grabcut
        if gc.ring and seg.scale < 1.0:
            gc = replace(gc, ring=0)  # the blob was upsampled from a coarser pass: GrabCut's cut alone
        return gc

    def _blobs(
        self, image: NDArray[np.uint8], seg: Segmentation | None = None
    ) -> tuple[Segmentation, list[NDArray[np.bool_]]]:
        """The refined segmentation (of ``seg``, by default the segmenter's prediction) and the screw blobs as
        the segmenter gave them (same order)."""
        seg = seg if seg is not None else self.segmenter.predict(image)
        raw = screws = seg.instances.get("screw", [])
        if screws and self.config.refine_edges:
            p = seg.probs[seg.classes.index("screw")]
            gc = self._grabcut_config(seg)
            screws = [grabcut_refine(image, p, m, gc) for m in screws]
            if self.edgenet is not None and self.config.use_edgenet:
                from core.segment.edgenet import edgenet_refine

                screws = [
                    edgenet_refine(
                        self.edgenet,
                        image,
                        p,
                        m,
                        views=self.config.edgenet_views,
                        min_hole=self.config.edgenet_min_hole,
                    )
                    for m in screws
                ]
        if screws is not raw:
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

    def locate(self, image: NDArray[np.uint8], click: tuple[float, float] | None = None) -> LocateResult:
        """Locate, orient and measure every screw in a (H, W, 3) uint8 RGB photo.

        ``click``: an (x, y) pixel of the photo a person pointed at the screw with (the search app's "click the
        screw" when the answer outlined nothing or the wrong thing): only that screw is located; see
        :func:`core.locate.click.clicked_screw`.

        Raises:
            InputError: not an RGB uint8 image, smaller than 16 px, or a click outside the photo.
            NoScrewFoundError: the segmenter found no screw, on its first look nor on its second
                (``LocateConfig.second_look_zoom``); with a click, nothing stands out at the clicked point.
        """
        check_image(image)
        if click is not None:
            click = check_click(click, (image.shape[0], image.shape[1]))
        first = self.segmenter.predict(image)
        if click is None:
            look = self._look(image, first)
        else:
            seg, mask, raw_mask = clicked_screw(
                image,
                first,
                click,
                self.config,
                lambda: self._blobs(image, first),
                self.edgenet,
                self.verifier,
                next(iter(rank_coins(first, first.instances.get("coin", []), self.config)), None),
            )
            # the person vouches for the screw: no verifier score
            look = _Look(
                replace(seg, instances={**seg.instances, "screw": [mask]}), [mask], [raw_mask], [None]
            )
        zoom = self.config.second_look_zoom
        # (stand-in segmenters without predict_tiled, e.g. oracles in tests, get no second look)
        if (
            click is None
            and zoom > 1.0
            and _doubtful(look, self.config.verify_min)
            and hasattr(self.segmenter, "predict_tiled")
        ):
            second = self._look(image, _small_screws(self.segmenter.predict_tiled(image, zoom, first)), True)
            if _best_score(second) > _best_score(look):
                look = second
        seg, screws, raw, scores = look
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
            coins = rank_coins(seg, coins, self.config)
            seg = replace(seg, instances={**seg.instances, "coin": coins})
        if coins:
            try:
                scale, edge = reference_scale(image, coins[0], self.config, self.coin_edgenet)
            except NoCoinFoundError as e:
                reason = e.message
            else:
                if edge is not None:
                    coins = [edge, *coins[1:]]
                    seg = replace(seg, instances={**seg.instances, "coin": coins})
        else:
            reason = "no coin found: add a coin beside the screw to get sizes in mm"
        found = [
            self._screw(image, m, scale, mean_prob(seg, "screw", m), v, vm)
            for m, v, vm in zip(screws, scores, views, strict=True)
        ]
        return LocateResult(found, scale, reason, seg, click)

    def _look(self, image: NDArray[np.uint8], seg: Segmentation, second: bool = False) -> _Look:
        """One segmentation's screw blobs, refined and verified: (segmentation holding the kept blobs, kept
        blobs, the same as the segmenter gave them, their verifier scores or None). A ``second`` look keeps
        only the blobs the verifier accepts (no doubted best blob kept anyway)."""
        seg, raw = self._blobs(image, seg)
        screws = seg.instances.get("screw", [])
        scores: list[float | None] = [None] * len(screws)
        if screws and self.verifier is not None:
            keep, scores = self._verified(image, seg, screws, keep_best=not second)
            screws, raw = [screws[i] for i in keep], [raw[i] for i in keep]
            seg = replace(seg, instances={**seg.instances, "screw": screws})
        return _Look(seg, screws, raw, scores)

    def _verified(
        self,
        image: NDArray[np.uint8],
        seg: Segmentation,
        screws: list[NDArray[np.bool_]],
        keep_best: bool = True,
    ) -> tuple[list[int], list[float | None]]:
        """The indices of the blobs the verifier calls screws (largest first, as the segmenter gave them) and
        their scores."""
        from core.segment.verify import verify_blobs

        assert self.verifier is not None
        p = verify_blobs(self.verifier, image, seg.probs[seg.classes.index("screw")], screws)
        keep = [i for i, v in enumerate(p) if v >= self.config.verify_min]
        if not keep and keep_best and self.config.verify_keep_best:
            keep = [int(np.argmax(p))]
        return keep, [p[i] for i in keep]


class _Look(NamedTuple):
    """One look of the segmenter at a photo, after refinement and verification."""

    seg: Segmentation  # holding the kept screw blobs
    screws: list[NDArray[np.bool_]]  # kept blobs, refined
    raw: list[NDArray[np.bool_]]  # the same blobs as the segmenter gave them
    scores: list[float | None]  # their verifier scores (None without a verifier)


#: The second look is for screws too small or faint for the first: its blobs larger than this share of the photo
#: are dropped (on a busy background the tiled pass can mark the whole photo: a gravel photo of the held-out
#: stream, session 11, came back as one photo-sized "screw").
SECOND_LOOK_MAX_AREA = 0.1


def _small_screws(seg: Segmentation) -> Segmentation:
    """``seg`` without the screw blobs larger than :data:`SECOND_LOOK_MAX_AREA` of the photo."""
    limit = SECOND_LOOK_MAX_AREA * seg.probs.shape[1] * seg.probs.shape[2]
    screws = [m for m in seg.instances.get("screw", []) if m.sum() <= limit]
    return replace(seg, instances={**seg.instances, "screw": screws})


def _best_score(look: _Look) -> float:
    """How much a look is worth: the verifier's best score among its blobs (1 for blobs no verifier scored),
    -1 without a blob."""
    if not look.scores:
        return -1.0
    return max(1.0 if v is None else float(v) for v in look.scores)


def _doubtful(look: _Look, verify_min: float) -> bool:
    """No screw blob, or only blobs the verifier scores below ``verify_min``."""
    return _best_score(look) < verify_min
