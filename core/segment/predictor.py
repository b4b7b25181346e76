"""Stateless segmenter predictor: numpy RGB in, per-class probabilities and cleaned instance masks out."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import torch
from numpy.typing import NDArray

from core.device import inference_layout
from core.errors import InputError
from core.segment.model import SegmenterNet

__all__ = [
    "Segmentation",
    "Segmenter",
    "clean_instances",
    "check_image",
    "DEFAULT_INFER_SIZE",
    "DEFAULT_THRESHOLD",
]

MIN_SIDE = 16
#: Settings of the shipped segmenter (models/segmenter/MODEL_CARD.md): it was trained on 512x384 studio
#: photos, and the threshold was chosen on the validation stream.
DEFAULT_INFER_SIZE = 512
DEFAULT_THRESHOLD = 0.5
#: Second pass around each screw in the search pipeline, as a zoom over the first pass (chosen on 1280x960
#: validation photos: screw IoU 0.765 without, 0.828 / 0.833 / 0.832 / 0.829 at 1.3 / 1.6 / 2.0 / 2.5, ~25 ms).
SEARCH_REFINE_ZOOM = 1.6


@dataclass(frozen=True)
class Segmentation:
    """Output of :meth:`Segmenter.predict`.

    Attributes:
        probs: (C, H, W) float32 in [0, 1], one map per class, at the input photo's size.
        classes: class names, in channel order.
        instances: class name -> list of (H, W) bool masks, one per connected object, largest first.
        scale: the network's first pass saw the photo resized by this factor (1 = at its own size; below 1 the
            probabilities were upsampled to the photo).
    """

    probs: NDArray[np.float32]
    classes: tuple[str, ...]
    instances: dict[str, list[NDArray[np.bool_]]]
    scale: float = 1.0

    def mask(self, name: str) -> NDArray[np.bool_]:
        """Union of the cleaned instances of one class."""
        out = np.zeros(self.probs.shape[1:], bool)
        for m in self.instances.get(name, []):
            out |= m
        return out


def check_image(image: object) -> NDArray[np.uint8]:
    """Validate a photo: (H, W, 3) uint8 RGB, both sides >= 16 px.

    Raises:
        InputError: wrong type, shape, dtype or a tiny image (the message says what is expected).
    """
    if not isinstance(image, np.ndarray):
        raise InputError(f"expected a numpy RGB image, got {type(image).__name__}", field="image")
    if image.ndim != 3 or image.shape[2] != 3:
        raise InputError(
            f"expected shape (H, W, 3) RGB, got {image.shape}; convert grey/RGBA to RGB", field="image"
        )
    if image.dtype != np.uint8:
        raise InputError(f"expected dtype uint8 (0-255), got {image.dtype}", field="image")
    if min(image.shape[:2]) < MIN_SIDE:
        raise InputError(
            f"image is {image.shape[1]}x{image.shape[0]} px, too small to find a screw; "
            f"use a photo at least {MIN_SIDE} px on each side (ideally 512 or more)",
            field="image",
        )
    return image


def clean_instances(prob: NDArray[np.float32], threshold: float, min_area: int) -> list[NDArray[np.bool_]]:
    """Threshold, drop blobs smaller than ``min_area`` px, fill holes; one mask per blob, largest first."""
    m = (prob >= threshold).astype(np.uint8)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(m, connectivity=8)
    order = sorted(range(1, n), key=lambda k: -int(stats[k, cv2.CC_STAT_AREA]))
    out: list[NDArray[np.bool_]] = []
    for k in order:
        if stats[k, cv2.CC_STAT_AREA] < min_area:
            break
        blob = (labels == k).astype(np.uint8)
        contours, _ = cv2.findContours(blob, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        filled = np.zeros_like(blob)
        cv2.drawContours(filled, contours, -1, 1, thickness=-1)
        out.append(filled.astype(bool))
    return out


class Segmenter:
    """Runs a :class:`SegmenterNet` on one photo. Holds no per-image state, so one instance can serve
    many callers.

    Args:
        model: the network (put in eval mode here).
        infer_size: the photo's longer side is resized to this (then padded to a multiple of 32).
        threshold: probability above which a pixel belongs to a class.
        min_area_frac: blobs smaller than this fraction of the photo (and than 12 px) are dropped.
        threads: torch CPU threads (None leaves the setting alone).
        flip_tta: also run the left-right mirrored photo and average the two probability maps (about twice
            the network time; smoother edges).
        refine_zoom: when > 1, a second pass on a crop around each screw, enlarged up to this factor over the
            first pass (see :meth:`probabilities`); 1 = off.
    """

    def __init__(
        self,
        model: SegmenterNet,
        infer_size: int = DEFAULT_INFER_SIZE,
        threshold: float = DEFAULT_THRESHOLD,
        min_area_frac: float = 2e-4,
        threads: int | None = None,
        flip_tta: bool = False,
        refine_zoom: float = 1.0,
    ):
        self.model = inference_layout(model)
        self.flip_tta = bool(flip_tta)
        self.refine_zoom = float(refine_zoom)
        self.infer_size = int(infer_size)
        self.threshold = float(threshold)
        self.min_area_frac = float(min_area_frac)
        if threads is not None:
            torch.set_num_threads(threads)

    @property
    def classes(self) -> tuple[str, ...]:
        return tuple(self.model.arch.classes)

    def probabilities(self, image: NDArray[np.uint8]) -> NDArray[np.float32]:
        """(C, H, W) float32 probabilities at the photo's size for a (H, W, 3) uint8 RGB photo.

        With ``refine_zoom`` > 1, each screw found in the first pass is run again on a crop around it,
        enlarged by up to that factor (thin shanks get more pixels), and its box takes those probabilities.
        """
        img = check_image(image)
        h, w = img.shape[:2]
        probs = self._net_probs(img, self.infer_size / max(h, w))
        if self.refine_zoom > 1.0 and "screw" in self.classes:
            self._refine(img, probs, self.classes.index("screw"))
        return probs

    def _net_probs(self, img: NDArray[np.uint8], s: float) -> NDArray[np.float32]:
        """Network probabilities of ``img`` resized by ``s``, back at ``img``'s size: (C, H, W)."""
        h, w = img.shape[:2]
        nh, nw = max(int(round(h * s)), 1), max(int(round(w * s)), 1)
        small = img
        if (nh, nw) != (h, w):
            small = np.asarray(
                cv2.resize(img, (nw, nh), interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR),
                np.uint8,
            )
        ph, pw = (-nh) % 32, (-nw) % 32
        border = cv2.BORDER_REFLECT_101 if min(nh, nw) > 1 else cv2.BORDER_CONSTANT
        views = [small] + ([np.ascontiguousarray(small[:, ::-1])] if self.flip_tta else [])
        # Each view is padded on its own right/bottom, so the mirror sees the mirrored photo, not its padding.
        batch = np.stack([cv2.copyMakeBorder(v, 0, ph, 0, pw, border) for v in views])  # (B, H', W', 3)
        x = torch.from_numpy(batch).permute(0, 3, 1, 2).float().to(self.model.device)  # (B, 3, H', W')
        with torch.inference_mode():
            out = torch.sigmoid(self.model(x))[:, :, :nh, :nw]  # (B, C, nh, nw)
            prob = out[0] if not self.flip_tta else 0.5 * (out[0] + out[1].flip(2))
            p = prob.float().cpu().numpy()  # (C, nh, nw)
        if (nh, nw) == (h, w):
            return np.ascontiguousarray(p, dtype=np.float32)
        return np.stack([cv2.resize(c, (w, h), interpolation=cv2.INTER_LINEAR) for c in p]).astype(np.float32)

    def _refine(self, img: NDArray[np.uint8], probs: NDArray[np.float32], ch: int) -> None:
        """Second pass on a zoomed crop around each screw blob; writes into ``probs`` in place.

        The zoom is relative to the first pass: a 1280 px photo goes through the first pass at 512 px (scale
        0.4), and its screws again at ``0.4 * refine_zoom`` -- the net sees the screw enlarged by the factor it
        was trained to handle, and the mask is cut from more of the photo's own pixels.
        """
        h, w = img.shape[:2]
        s0 = self.infer_size / max(h, w)  # scale of the first pass (as in probabilities)
        m = (probs[ch] >= self.threshold).astype(np.uint8)
        n, _, stats, _ = cv2.connectedComponentsWithStats(m, connectivity=8)
        min_area = max(12, int(self.min_area_frac * h * w))
        for k in range(1, n):
            x, y, bw, bh, area = (int(v) for v in stats[k])
            if area < min_area:
                continue
            pad = int(16 / s0) + int(0.1 * max(bw, bh))  # 16 px of the first pass + 10 %
            x0, y0, x1, y1 = max(0, x - pad), max(0, y - pad), min(w, x + bw + pad), min(h, y + bh + pad)
            # Never more pixels than a full pass: the zoom shrinks for large screws.
            z = min(s0 * self.refine_zoom, self.infer_size / max(x1 - x0, y1 - y0))
            if z < 1.1 * s0 or min(x1 - x0, y1 - y0) < MIN_SIDE:
                continue
            crop = self._net_probs(np.ascontiguousarray(img[y0:y1, x0:x1]), z)  # (C, h', w')
            probs[ch, y0:y1, x0:x1] = crop[ch]

    def predict(self, image: NDArray[np.uint8]) -> Segmentation:
        """Probabilities and cleaned instance masks for one (H, W, 3) uint8 RGB photo (XY pixel frame)."""
        return self._segmentation(self.probabilities(image))

    def _segmentation(self, probs: NDArray[np.float32]) -> Segmentation:
        h, w = probs.shape[1:]
        min_area = max(12, int(self.min_area_frac * h * w))
        inst = {
            name: clean_instances(probs[i], self.threshold, min_area) for i, name in enumerate(self.classes)
        }
        return Segmentation(probs, self.classes, inst, min(1.0, self.infer_size / max(h, w)))

    def predict_tiled(self, image: NDArray[np.uint8], zoom: float, first: Segmentation) -> Segmentation:
        """``first`` (this segmenter's :meth:`predict` of ``image``) with its screw channel read again at
        ``zoom`` times the first pass's scale, tile by tile (``infer_size`` tiles overlapping by half, the
        maximum where they overlap): a second look for screws the first pass missed (small, or on a busy
        background). The other classes keep the first pass's maps. At zoom 2: six ``infer_size`` tiles for a
        4:3 photo.
        """
        img = check_image(image)
        if "screw" not in self.classes or zoom <= 1.0:
            return first
        h, w = img.shape[:2]
        s = zoom * min(1.0, self.infer_size / max(h, w))  # small photos are enlarged
        tile = max(int(self.infer_size / s), MIN_SIDE)

        def starts(n: int) -> list[int]:
            return [0] if n <= tile else [*range(0, n - tile, max(tile // 2, 1)), n - tile]

        ch = self.classes.index("screw")
        screw = np.zeros((h, w), np.float32)
        for y0 in starts(h):
            for x0 in starts(w):
                y1, x1 = min(y0 + tile, h), min(x0 + tile, w)
                crop = np.ascontiguousarray(img[y0:y1, x0:x1])
                np.maximum(screw[y0:y1, x0:x1], self._net_probs(crop, s)[ch], out=screw[y0:y1, x0:x1])
        probs = first.probs.copy()
        probs[ch] = screw
        out = self._segmentation(probs)
        return Segmentation(out.probs, out.classes, out.instances, first.scale)
