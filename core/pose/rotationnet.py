"""RotationNet: a shallow CNN that predicts a screw's tip->head angle as classification over angle bins.

Used when the minimum-area rectangle is nearly square (short screws), where the rectangle says little.
Trained self-supervised on LONG screws: their angle computed by the geometry (rectangle + half areas) puts
them head-up; each is then cut to a random shorter length (head kept, so it looks like a short screw) and
turned by a random known angle, which is the label.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import cv2
import numpy as np
import torch
from numpy.typing import NDArray
from torch import nn

__all__ = [
    "RotationNetArch",
    "RotationNet",
    "create_rotationnet",
    "rotnet_input",
    "decode_bins",
    "predict_angle",
    "predict_probs",
    "probs_angle",
    "direction_mass",
    "conv_bn_relu",
]


def conv_bn_relu(i: int, o: int) -> nn.Sequential:
    """3x3 convolution (no bias), batch norm, ReLU: the block of the project's small CNNs."""
    return nn.Sequential(nn.Conv2d(i, o, 3, padding=1, bias=False), nn.BatchNorm2d(o), nn.ReLU(inplace=True))


@dataclass(frozen=True)
class RotationNetArch:
    """Architecture arguments (stored in the checkpoint)."""

    bins: int = 72
    input_size: int = 64
    width: int = 32


class RotationNet(nn.Module):
    """(B, 4, S, S) input (RGB * mask / 255, mask) -> (B, bins) logits over [0, 360)."""

    def __init__(self, arch: RotationNetArch):
        super().__init__()
        self.arch = arch
        w = arch.width
        block = conv_bn_relu
        self.features = nn.Sequential(
            block(4, w),
            nn.MaxPool2d(2),
            block(w, w),
            nn.MaxPool2d(2),
            block(w, 2 * w),
            nn.MaxPool2d(2),
            block(2 * w, 2 * w),
            nn.MaxPool2d(2),
        )
        s = arch.input_size // 16
        self.head = nn.Sequential(
            nn.Flatten(), nn.Linear(2 * w * s * s, 128), nn.ReLU(inplace=True), nn.Linear(128, arch.bins)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))  # (B, bins)


def create_rotationnet(bins: int = 72, input_size: int = 64, width: int = 32) -> RotationNet:
    """Build a randomly initialised RotationNet."""
    return RotationNet(RotationNetArch(bins, input_size, width))


def arch_dict(arch: RotationNetArch) -> dict[str, int]:
    return asdict(arch)


def rotnet_input(image: NDArray[np.uint8], mask: NDArray[np.bool_], size: int = 64) -> NDArray[np.float32]:
    """Rotation-neutral crop around the mask centroid: a square of side 2 x (max centroid distance) + 4,
    resized to ``size``. Returns (4, size, size) float32: RGB * mask / 255 and the mask."""
    ys, xs = np.nonzero(mask)
    cx, cy = float(xs.mean()), float(ys.mean())
    rad = float(np.sqrt(((xs - cx) ** 2 + (ys - cy) ** 2).max())) + 2.0
    scale = size / (2 * rad)
    mat = np.float32([[scale, 0, size / 2 - cx * scale], [0, scale, size / 2 - cy * scale]])  # type: ignore
    rgb = cv2.warpAffine(image, mat, (size, size), flags=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)  # type: ignore
    m = cv2.warpAffine(mask.astype(np.float32), mat, (size, size), flags=cv2.INTER_LINEAR)  # type: ignore
    out = np.concatenate([rgb.astype(np.float32).transpose(2, 0, 1) / 255.0 * m[None], m[None]], axis=0)
    return out.astype(np.float32)


def decode_bins(logits: torch.Tensor) -> torch.Tensor:
    """(B, bins) logits -> (B,) angles in degrees: circular mean of the probabilities within +-2 bins of
    the top bin (sub-bin resolution)."""
    b = logits.shape[1]
    p = torch.softmax(logits.float(), dim=1)
    top = p.argmax(dim=1)  # (B,)
    offs = torch.arange(-2, 3, device=logits.device)
    idx = (top[:, None] + offs[None]) % b  # (B, 5)
    w = p.gather(1, idx)
    ang = idx.float() * (2 * math.pi / b)
    s, c = (w * torch.sin(ang)).sum(1), (w * torch.cos(ang)).sum(1)
    return torch.rad2deg(torch.atan2(s, c)) % 360.0


def predict_angle(model: RotationNet, image: NDArray[np.uint8], mask: NDArray[np.bool_]) -> float:
    """Tip->head angle (degrees, clockwise from image-up) of one screw."""
    return probs_angle(predict_probs(model, image, mask))


def predict_probs(
    model: RotationNet, image: NDArray[np.uint8], mask: NDArray[np.bool_]
) -> NDArray[np.float64]:
    """(bins,) probabilities of one screw's tip->head angle; bin ``k`` is centred on ``k * 360 / bins``
    degrees (see :func:`direction_mass`)."""
    x = torch.from_numpy(rotnet_input(image, mask, model.arch.input_size))[None]
    with torch.inference_mode():
        return torch.softmax(model.eval()(x).float(), dim=1)[0].double().numpy()


def probs_angle(probs: NDArray[np.floating]) -> float:
    """:func:`decode_bins` of :func:`predict_probs`' answer (the softmax of its logs is the answer again)."""
    p = torch.from_numpy(np.asarray(probs, np.float64)).clamp_min(1e-30)
    return float(decode_bins(torch.log(p)[None])[0])


def direction_mass(probs: NDArray[np.floating], angle_deg: float, window_deg: float = 15.0) -> float:
    """How much of RotationNet's probability lies within ``window_deg`` of ``angle_deg``: how strongly it backs
    one candidate direction, e.g. one end of the mirror line. Each bin spreads its probability evenly over its
    width (circularly), so a flat answer backs every direction equally wherever the bins fall."""
    p = np.asarray(probs, np.float64)
    half = 180.0 / p.size
    off = (np.arange(p.size) * (2.0 * half) - angle_deg + 180.0) % 360.0 - 180.0
    overlap = np.minimum(window_deg, off + half) - np.maximum(-window_deg, off - half)
    return float((p * np.clip(overlap / (2.0 * half), 0.0, 1.0)).sum())
