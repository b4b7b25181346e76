"""Blob verifier: is this screw blob of the segmenter really a screw?

The U-Net's screw channel also fires on screw-like clutter (dowels, pens, rods, nuts): on 100 validation
photos (seed 500,011, 512x384) the far false-positive blobs were 40,000 of the 433,000 pixels in the screw
union, the largest single loss of screw IoU. The verifier looks at each blob on its own, turned so its long
axis is horizontal and cut out with some context, and says how sure it is that the blob is a screw. The
locator drops blobs below a threshold (:class:`core.locate.LocateConfig`, ``verify_min``).

Input (B, 5, H, W): the photo's RGB / 255, the blob mask and the segmenter's screw probability over a window
of ``1.25 x`` the blob's length along its axis (more for a blob too wide for the window's 1:3 shape), plus
three numbers per blob (mean screw probability over the blob, log of the blob's share of the photo, log of its
rectangle's aspect). Output: one logit per blob.
Trained by :mod:`core.segment.train_verifier` on the locator's own blobs of studio photos, as it scores them:
redrawn by EdgeNet (the shipped file since session 17; the session-7 file saw GrabCut's blobs).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from numpy.typing import NDArray
from torch import nn

from core.errors import InputError
from core.pose.geometry import axis_from_mask
from core.pose.rotationnet import conv_bn_relu

__all__ = [
    "VerifierArch",
    "ScrewVerifier",
    "create_verifier",
    "verifier_input",
    "verify_blobs",
    "N_SCALARS",
    "VERIFIER_FILE",
    "load_verifier",
]

#: Where the shipped verifier lives under ``models/``.
VERIFIER_FILE = ("segmenter", "verifier.safetensors")

#: Numbers given beside the image window: mean screw probability, log area share, log aspect.
N_SCALARS = 3


@dataclass(frozen=True)
class VerifierArch:
    """Architecture arguments (stored in the checkpoint)."""

    height: int = 32
    width: int = 96
    channels: int = 24


class ScrewVerifier(nn.Module):
    """(B, 5, H, W) window + (B, 3) scalars -> (B,) logits that the blob is a screw."""

    def __init__(self, arch: VerifierArch):
        super().__init__()
        if arch.height % 8 or arch.width % 8:
            raise InputError(f"verifier window must be a multiple of 8 px, got {arch.height}x{arch.width}")
        self.arch = arch
        w = arch.channels
        block = conv_bn_relu
        self.features = nn.Sequential(
            block(5, w),
            block(w, w),
            nn.MaxPool2d(2),
            block(w, 2 * w),
            nn.MaxPool2d(2),
            block(2 * w, 2 * w),
            nn.MaxPool2d(2),
            block(2 * w, 4 * w),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
        )
        self.head = nn.Sequential(nn.Linear(4 * w + N_SCALARS, 64), nn.ReLU(inplace=True), nn.Linear(64, 1))

    def forward(self, x: torch.Tensor, scalars: torch.Tensor) -> torch.Tensor:
        return self.head(torch.cat([self.features(x), scalars], dim=1))[:, 0]


def create_verifier(height: int = 32, width: int = 96, channels: int = 24) -> ScrewVerifier:
    """Build a randomly initialised verifier."""
    return ScrewVerifier(VerifierArch(height, width, channels))


def arch_dict(arch: VerifierArch) -> dict[str, int]:
    return asdict(arch)


def verifier_input(
    image: NDArray[np.uint8],
    prob: NDArray[np.float32],
    mask: NDArray[np.bool_],
    height: int = 32,
    width: int = 96,
) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    """The verifier's view of one blob.

    Args:
        image: (H, W, 3) uint8 RGB photo.
        prob: (H, W) screw probability of the segmenter, same size as the photo.
        mask: (H, W) bool blob.

    Returns:
        ((5, height, width) window: RGB / 255, mask, probability; turned so the blob's long axis is
        horizontal, ``1.25 x`` its length wide; (3,) scalars).

    Raises:
        InputError: the three arrays differ in size. NoScrewFoundError: the mask is empty.
    """
    h, w = mask.shape
    if image.shape[:2] != (h, w) or prob.shape != (h, w):
        raise InputError(
            f"photo {image.shape[:2]}, probability {prob.shape} and mask {mask.shape} must have the same size"
        )
    ax = axis_from_mask(mask)
    # The whole blob and a margin: 1.25 x its length, or more when it is too wide for the window's shape.
    span = 1.25 * max(ax.length_px, ax.width_px * width / height) + 4.0
    scale = width / span
    # axis_deg is clockwise from image-up; turning by axis_deg - 90 (cv2: counter-clockwise positive) lays it
    # along +x.
    mat = cv2.getRotationMatrix2D(ax.center, ax.axis_deg - 90.0, scale)
    mat[0, 2] += width / 2.0 - ax.center[0]
    mat[1, 2] += height / 2.0 - ax.center[1]
    interp = cv2.INTER_AREA if scale < 1.0 else cv2.INTER_LINEAR
    rgb = cv2.warpAffine(image, mat, (width, height), flags=interp, borderMode=cv2.BORDER_REPLICATE)
    stack = np.stack([mask.astype(np.float32), prob.astype(np.float32)], axis=-1)
    mp = cv2.warpAffine(stack, mat, (width, height), flags=cv2.INTER_LINEAR)
    window = np.concatenate(
        [rgb.astype(np.float32).transpose(2, 0, 1) / 255.0, mp.transpose(2, 0, 1)], axis=0
    ).astype(np.float32)
    area = float(mask.sum())
    scalars = np.array(
        [
            float(prob[mask].mean()),
            math.log(max(area, 1.0) / float(h * w)),
            math.log(max(ax.aspect, 1.0)),
        ],
        np.float32,
    )
    return window, scalars


def verify_blobs(
    model: ScrewVerifier,
    image: NDArray[np.uint8],
    prob: NDArray[np.float32],
    masks: list[NDArray[np.bool_]],
) -> list[float]:
    """Probability that each blob is a screw (one batched pass; [] for no blobs)."""
    if not masks:
        return []
    a = model.arch
    views = [verifier_input(image, prob, m, a.height, a.width) for m in masks]
    x = torch.from_numpy(np.stack([v[0] for v in views]))
    s = torch.from_numpy(np.stack([v[1] for v in views]))
    with torch.inference_mode():
        return [float(p) for p in torch.sigmoid(model.eval()(x, s))]


def load_verifier(path: str | Path | None = None, *, required: bool = False) -> ScrewVerifier | None:
    """The verifier in ``path`` (default: the shipped ``models/segmenter/verifier.safetensors``).

    Returns None when the default file is absent (the locator then keeps every blob); a ``path`` given or
    ``required=True`` must exist (CheckpointError names it).
    """
    from core.checkpoints import load_model_file

    return load_model_file(path, VERIFIER_FILE, create_verifier, required=required)  # type: ignore[return-value]
