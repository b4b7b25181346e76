"""EdgeNet: a small CNN that redraws one screw blob's outline from the photo around it.

The U-Net sees the photo at 512 px, so its blobs are smooth and a pixel or two off the outline, and GrabCut
(:mod:`core.segment.refine`) moves them onto colour edges, which are not always the screw's (shadows,
reflections, a head the same colour as the table). EdgeNet is trained on exactly those blobs: it takes a crop of
the photo at its own resolution around the blob, with the segmenter's probability and the blob as two more
channels, and predicts the true screw mask there. Its last layer adds the blob itself (``gain`` x the blob's
+-1 map) to the logits, so an untrained net returns the blob and training learns the corrections.

Crops (:func:`edge_crop`): the blob's box grown by ``margin`` x its longer side (at least 8 px) and to at least
``min_side`` px, cut from the photo at full resolution (downsized when the longer side exceeds ``max_side``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from numpy.typing import NDArray
from torch import nn

from core.errors import ConfigError
from core.pose.rotationnet import conv_bn_relu
from core.segment.predictor import clean_instances

__all__ = [
    "EDGENET_FILE",
    "EdgeNetArch",
    "EdgeNet",
    "EdgeCrop",
    "create_edgenet",
    "edge_crop",
    "edge_input",
    "edge_logits",
    "EDGE_VIEWS",
    "edgenet_refine",
    "load_edgenet",
]

EDGENET_FILE = ("segmenter", "edgenet.safetensors")


@dataclass(frozen=True)
class EdgeNetArch:
    """Architecture arguments (stored in the checkpoint)."""

    width: int = 16
    margin: float = 0.3
    min_side: int = 96
    max_side: int = 384


class EdgeNet(nn.Module):
    """(B, 5, H, W) input (RGB - 0.5, probability, blob), H and W multiples of 8 -> (B, 1, H, W) logits."""

    def __init__(self, arch: EdgeNetArch):
        super().__init__()
        self.arch = arch
        w = arch.width
        self.enc1 = nn.Sequential(conv_bn_relu(5, w), conv_bn_relu(w, w))
        self.enc2 = nn.Sequential(conv_bn_relu(w, 2 * w), conv_bn_relu(2 * w, 2 * w))
        self.enc3 = nn.Sequential(conv_bn_relu(2 * w, 4 * w), conv_bn_relu(4 * w, 4 * w))
        self.mid = nn.Sequential(conv_bn_relu(4 * w, 4 * w), conv_bn_relu(4 * w, 4 * w))
        self.dec3 = conv_bn_relu(8 * w, 2 * w)
        self.dec2 = conv_bn_relu(4 * w, w)
        self.dec1 = conv_bn_relu(2 * w, w)
        self.out = nn.Conv2d(w, 1, 1, bias=False)
        nn.init.zeros_(self.out.weight)
        self.gain = nn.Parameter(torch.tensor(3.0))
        self.pool = nn.MaxPool2d(2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        up = nn.functional.interpolate
        e1 = self.enc1(x)
        e2 = self.enc2(self.pool(e1))
        e3 = self.enc3(self.pool(e2))
        m = self.mid(self.pool(e3))
        d3 = self.dec3(torch.cat([up(m, scale_factor=2.0, mode="nearest"), e3], 1))
        d2 = self.dec2(torch.cat([up(d3, scale_factor=2.0, mode="nearest"), e2], 1))
        d1 = self.dec1(torch.cat([up(d2, scale_factor=2.0, mode="nearest"), e1], 1))
        return self.out(d1) + self.gain * (2.0 * x[:, 4:5] - 1.0)


def create_edgenet(width: int = 16, margin: float = 0.3, min_side: int = 96, max_side: int = 384) -> EdgeNet:
    """A randomly initialised EdgeNet (it returns its input blob until trained)."""
    return EdgeNet(EdgeNetArch(width, margin, min_side, max_side))


@dataclass(frozen=True)
class EdgeCrop:
    """Where a crop lies: photo rows ``y0:y1``, columns ``x0:x1``, resized by ``scale`` (1 = photo pixels)."""

    y0: int
    y1: int
    x0: int
    x1: int
    scale: float


def edge_crop(mask: NDArray[np.bool_], arch: EdgeNetArch) -> EdgeCrop:
    """The crop EdgeNet reads around one non-empty blob (see the module docstring)."""
    ys, xs = np.nonzero(mask)
    h, w = mask.shape
    y0, y1, x0, x1 = int(ys.min()), int(ys.max()) + 1, int(xs.min()), int(xs.max()) + 1
    pad = max(8, int(round(arch.margin * max(y1 - y0, x1 - x0))))
    y0, y1, x0, x1 = y0 - pad, y1 + pad, x0 - pad, x1 + pad
    for lo, hi, size, axis in ((y0, y1, h, 0), (x0, x1, w, 1)):
        grow = max(0, min(arch.min_side, size) - (hi - lo))
        lo, hi = lo - grow // 2, hi + grow - grow // 2
        shift = max(0, -lo) - max(0, hi - size)
        lo, hi = max(0, lo + shift), min(size, hi + shift)
        if axis == 0:
            y0, y1 = lo, hi
        else:
            x0, x1 = lo, hi
    scale = min(1.0, arch.max_side / max(y1 - y0, x1 - x0))
    return EdgeCrop(y0, y1, x0, x1, scale)


def _resize(a: NDArray, crop: EdgeCrop, interp: int) -> NDArray:
    if crop.scale >= 1.0:
        return a
    h, w = a.shape[:2]
    size = (max(1, int(round(w * crop.scale))), max(1, int(round(h * crop.scale))))
    return np.asarray(cv2.resize(a, size, interpolation=interp))


def edge_input(
    image: NDArray[np.uint8], prob: NDArray[np.floating], mask: NDArray[np.bool_], crop: EdgeCrop
) -> NDArray[np.float32]:
    """(5, h, w) float32 network input of one crop: RGB / 255 - 0.5, the probability, the blob."""
    sl = np.s_[crop.y0 : crop.y1, crop.x0 : crop.x1]
    rgb = _resize(np.ascontiguousarray(image[sl]), crop, cv2.INTER_AREA).astype(np.float32) / 255.0 - 0.5
    p = _resize(np.asarray(prob[sl], np.float32), crop, cv2.INTER_AREA)
    m = _resize(mask[sl].astype(np.float32), crop, cv2.INTER_AREA)
    return np.concatenate([rgb.transpose(2, 0, 1), p[None], m[None]]).astype(np.float32)


#: Mirror sets :func:`edge_logits` averages over: the dims of (B, C, H, W) each view flips.
_FLIPS: dict[int, tuple[tuple[int, ...], ...]] = {1: ((),), 2: ((), (3,)), 4: ((), (3,), (2,), (2, 3))}
EDGE_VIEWS = tuple(_FLIPS)


def edge_logits(model: EdgeNet, x: NDArray[np.float32], views: int = 1) -> NDArray[np.float32]:
    """Logits of one (5, h, w) input at (h, w): padded to a multiple of 8 (edge values) and cut back.

    ``views`` 2 or 4 average the logits over the crop and its mirrors (left-right; and up-down, both) in one
    batch, each mirrored back: EdgeNet was trained with flips and quarter turns, so every view is a fair
    look, and their mean is a steadier outline (see :class:`core.locate.LocateConfig` ``edgenet_views``).
    """
    if views not in _FLIPS:
        raise ConfigError(f"EdgeNet views is one of {EDGE_VIEWS}, got {views}", field="edgenet_views")
    _, h, w = x.shape
    ph, pw = (-h) % 8, (-w) % 8
    xp = np.pad(x, ((0, 0), (0, ph), (0, pw)), mode="edge")
    t = torch.from_numpy(np.ascontiguousarray(xp))[None].to(next(model.parameters()).device)
    flips = _FLIPS[views]
    with torch.inference_mode():
        out = model(torch.cat([t.flip(f) if f else t for f in flips]))
        # padding sits at the bottom / right of each view once mirrored back, so one cut fits all
        mean = torch.stack(
            [o.flip(tuple(d - 1 for d in f)) if f else o for o, f in zip(out, flips, strict=True)]
        )
        logit = mean.mean(0)
    return logit[0, :h, :w].float().cpu().numpy()


def edgenet_refine(
    model: EdgeNet,
    image: NDArray[np.uint8],
    prob: NDArray[np.floating],
    mask: NDArray[np.bool_],
    min_ratio: float = 0.5,
    max_ratio: float = 1.6,
    views: int = 1,
    min_hole: float = 0.0,
) -> NDArray[np.bool_]:
    """The blob ``mask`` redrawn by EdgeNet: the largest connected part of its answer, holes filled.

    ``views``: 1, or 2 / 4 to average over mirrored crops (:func:`edge_logits`). ``min_hole`` > 0 keeps the holes
    of the answer of at least that share of its area (and 9 px): an eye bolt's ring; smaller holes are noise.

    Returns ``mask`` itself when the blob is tiny (< 20 px) or the answer's area is outside ``min_ratio`` ..
    ``max_ratio`` times the blob's (a guard like GrabCut's).
    """
    area = int(mask.sum())
    if area < 20:
        return mask
    model = model.eval()
    crop = edge_crop(mask, model.arch)
    logit = edge_logits(model, edge_input(image, prob, mask, crop), views)
    hh, ww = crop.y1 - crop.y0, crop.x1 - crop.x0
    if logit.shape != (hh, ww):
        logit = np.asarray(cv2.resize(logit, (ww, hh), interpolation=cv2.INTER_LINEAR))
    fg = logit > 0.0
    parts = clean_instances(fg.astype(np.float32), 0.5, 1)
    if not parts:
        return mask
    new = parts[0].astype(bool)
    if min_hole > 0.0:
        new &= ~_large_holes(new & ~fg, min_hole * int(new.sum()))
    if not min_ratio * area <= int(new.sum()) <= max_ratio * area:
        return mask
    out = np.zeros_like(mask)
    out[crop.y0 : crop.y1, crop.x0 : crop.x1] = new
    return out


def _large_holes(holes: NDArray[np.bool_], min_area: float) -> NDArray[np.bool_]:
    """The connected parts of ``holes`` of at least ``min_area`` px (and 9 px)."""
    n, labels, stats, _ = cv2.connectedComponentsWithStats(holes.astype(np.uint8), connectivity=4)
    keep = [k for k in range(1, n) if stats[k, cv2.CC_STAT_AREA] >= max(min_area, 9.0)]
    return np.isin(labels, keep) if keep else np.zeros_like(holes)


def arch_dict(arch: EdgeNetArch) -> dict[str, float | int]:
    return asdict(arch)


def load_edgenet(path: str | Path | None = None, *, required: bool = False) -> EdgeNet | None:
    """The EdgeNet in ``path`` (default: the shipped ``models/segmenter/edgenet.safetensors``).

    Returns None when the default file is absent; a ``path`` given or ``required=True`` must exist
    (CheckpointError names it).
    """
    from core.checkpoints import load_model_file

    return load_model_file(path, EDGENET_FILE, create_edgenet, required=required)  # type: ignore[return-value]
