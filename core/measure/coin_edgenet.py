"""CoinEdgeNet: a tiny network that finds the coin's edge along each normal of a first ellipse.

The strongest colour step (:func:`core.measure.coin_edges.refine_ellipse_on_edges`) lies on the coin's edge in
a sharp photo, but a phone's blur mixes the coin's rim with its shadow on one side and the step's peak moves:
on studio photos the fitted centre is ~0.7 px off the true one (median) from a TRUE start, ~0.2 px in the same
photos without blur, noise and JPEG. CoinEdgeNet reads the photo's colour profile across the outline (RGB every
``step`` px within ``half_length`` px either side of each point of the ellipse, normalised for contrast) and
predicts how far along the outward normal the coin's true edge lies; an ellipse is fitted through those points
(robustly, as the colour-step fit), and the profiles are read again around that ellipse (``passes``).

Trained on studio photos by :mod:`core.measure.train_coin_edgenet` (starts: the true ellipse moved by a pixel
or two, as a segmenter's mask draws it; targets: where each normal crosses the true ellipse).
"""

from __future__ import annotations

import argparse
import math
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import cv2
import numpy as np
import torch
from numpy.typing import NDArray
from torch import nn

from core.measure.coin import EllipseFit
from core.measure.coin_edges import colour_steps, fit_inliers, outline_normals

__all__ = [
    "COIN_EDGENET_FILE",
    "add_coin_edgenet_args",
    "coin_edgenet_from_args",
    "CoinEdgeArch",
    "CoinEdgeNet",
    "create_coin_edgenet",
    "load_coin_edgenet",
    "profile_features",
    "refine_ellipse_learned",
]

COIN_EDGENET_FILE = ("measure", "coin_edgenet.safetensors")


@dataclass(frozen=True)
class CoinEdgeArch:
    """Architecture arguments (stored in the checkpoint)."""

    hidden: int = 128
    half_length: float = 6.0  # px either side of the outline
    step: float = 0.5  # px between samples

    @property
    def samples(self) -> int:
        return int(round(2.0 * self.half_length / self.step)) + 1

    @property
    def features(self) -> int:
        return 3 * self.samples + 1  # RGB profile + the coin's size


class CoinEdgeNet(nn.Module):
    """(N, features) profiles (:func:`profile_features`) -> (N,) offset of the edge along the normal, px."""

    def __init__(self, arch: CoinEdgeArch):
        super().__init__()
        self.arch = arch
        h = arch.hidden
        self.mlp = nn.Sequential(
            nn.Linear(arch.features, h), nn.ReLU(), nn.Linear(h, h), nn.ReLU(), nn.Linear(h, 1)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.mlp(x)[:, 0]


def create_coin_edgenet(hidden: int = 128, half_length: float = 6.0, step: float = 0.5) -> CoinEdgeNet:
    """A randomly initialised CoinEdgeNet."""
    return CoinEdgeNet(CoinEdgeArch(hidden, half_length, step))


def load_coin_edgenet(path: str | Path | None = None, *, required: bool = False) -> CoinEdgeNet | None:
    """The CoinEdgeNet in ``path`` (default: the shipped ``models/measure/coin_edgenet.safetensors``).

    Returns None when the default file is absent; a ``path`` given or ``required=True`` must exist
    (CheckpointError names it).
    """
    from core.checkpoints import load_model_file

    return load_model_file(path, COIN_EDGENET_FILE, create_coin_edgenet, required=required)  # type: ignore[return-value]


def add_coin_edgenet_args(parser: argparse.ArgumentParser) -> None:
    """``--coin-edgenet FILE`` / ``--no-coin-edgenet`` for the commands that measure with the coin."""
    parser.add_argument(
        "--coin-edgenet",
        default=None,
        help="CoinEdgeNet coin edge model (default: the shipped one, when present)",
    )
    parser.add_argument(
        "--no-coin-edgenet", action="store_true", help="find the coin's edge by the strongest colour step"
    )


def coin_edgenet_from_args(args: argparse.Namespace) -> CoinEdgeNet | None:
    """The CoinEdgeNet :func:`add_coin_edgenet_args`' flags ask for (None with ``--no-coin-edgenet``)."""
    return None if args.no_coin_edgenet else load_coin_edgenet(args.coin_edgenet)


def arch_dict(arch: CoinEdgeArch) -> dict[str, float | int]:
    return asdict(arch)


def profile_features(
    image: NDArray[np.uint8], fit: EllipseFit, arch: CoinEdgeArch
) -> tuple[NDArray[np.float32], tuple[NDArray[np.float64], ...]]:
    """The network's input around ``fit``: (N, features) float32 and the points and normals they were read at.

    Each row: the photo's RGB (bilinear) every ``step`` px along the normal, ``-half_length`` (inside) to
    ``+half_length``, minus the row's mean and over its std (+2 grey levels, so flat noise stays small), then
    the ellipse's long semi-axis / 50.
    """
    x, y, nx, ny = outline_normals(fit)
    h, w = image.shape[:2]
    margin = fit.a + arch.half_length + 3.0
    x0, y0 = max(int(fit.cx - margin), 0), max(int(fit.cy - margin), 0)
    x1, y1 = min(int(fit.cx + margin) + 2, w), min(int(fit.cy + margin) + 2, h)
    window = np.asarray(image[max(y0, 0) : max(y1, y0 + 1), max(x0, 0) : max(x1, x0 + 1)], np.float32)
    t = np.linspace(-arch.half_length, arch.half_length, arch.samples)
    xs = (x[:, None] + t[None] * nx[:, None] - x0).astype(np.float32)
    ys = (y[:, None] + t[None] * ny[:, None] - y0).astype(np.float32)
    prof = np.asarray(
        cv2.remap(window, xs, ys, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE), np.float32
    )
    prof = prof.reshape(len(x), -1)  # (N, samples * 3)
    prof = (prof - prof.mean(1, keepdims=True)) / (prof.std(1, keepdims=True) + 2.0)
    feat = np.concatenate([prof, np.full((len(x), 1), fit.a / 50.0, np.float32)], 1)
    return feat.astype(np.float32), (x, y, nx, ny)


def refine_ellipse_learned(
    image: NDArray[np.uint8],
    fit: EllipseFit,
    net: CoinEdgeNet,
    passes: int = 3,
    inlier: float = 0.025,
    min_inliers: float = 0.4,
    max_move: float = 0.1,
    min_step: float = 8.0,
) -> EllipseFit | None:
    """The coin's outline moved onto its edge as CoinEdgeNet reads it: a sub-pixel ellipse, or None.

    Each pass reads the profiles around the last ellipse, moves every point by the predicted offset, and fits
    an ellipse through them, refitted three times on the points within ``inlier`` x the long semi-axis (floor
    0.75 px). Refused (None) when fewer than ``min_inliers`` of the points are kept, the ellipse moved further
    than ``max_move`` x the long semi-axis (floor 3 px) from ``fit``, or the median colour step across the kept
    points (RGB distance 1.5 px either side) is under ``min_step`` grey levels: no edge, only noise. The same
    checks as :func:`core.measure.coin_edges.refine_ellipse_on_edges`; points near the photo's border are left
    out (not the coin's edge).
    """
    h, w = image.shape[:2]
    move_px = max(3.0, max_move * fit.a)
    out = fit
    for _ in range(max(passes, 1)):
        if not (out.cx + out.a > 0 and out.cy + out.a > 0 and out.cx - out.a < w and out.cy - out.a < h):
            return None  # no part of the outline lies in the photo
        feat, (x, y, nx, ny) = profile_features(image, out, net.arch)
        with torch.inference_mode():
            t = net(torch.from_numpy(feat)).numpy().astype(np.float64)
        t = np.clip(t, -net.arch.half_length, net.arch.half_length)
        px, py = x + t * nx, y + t * ny
        ok = (px > 1) & (py > 1) & (px < w - 2) & (py < h - 2)
        fitted = fit_inliers(np.stack([px, py], 1)[ok], len(x), max(0.75, inlier * out.a), min_inliers)
        if fitted is None:
            return None
        out, keep = fitted
        if (
            math.hypot(out.cx - fit.cx, out.cy - fit.cy) > move_px
            or max(abs(out.a - fit.a), abs(out.b - fit.b)) > move_px
        ):
            return None
        if min(out.b, out.a) < 2.0:
            return None
    # the colour step across the last points kept: a coin has an edge, a blob of noise does not
    steps = colour_steps(image, px, py, nx, ny)[ok][keep]
    if steps.size == 0 or float(np.median(steps)) < min_step:
        return None
    return replace(out, n_points=int(keep.sum()))
