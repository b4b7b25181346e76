"""HeadEndNet: which end of a located screw is its head, read from the photo around the whole screw.

RotationNet (:mod:`core.pose.rotationnet`) sees the photo only through the screw's mask (RGB x mask), and the half
areas read the mask alone, so when the segmenter misses the head (a matte head on grass, a dark head on gravel)
or grows the mask into the background at one end, both put the head at the wrong end. HeadEndNet reads a strip
of the photo along the screw's axis, head end up as the locator decided it, reaching ``reach`` of the screw's
length past each end, unmasked, with the mask as a fourth channel, and says how likely the head is at the top.
The locator turns the screw round when that probability is below ``LocateConfig.headend_flip_below``.

Trained by :mod:`core.pose.train_headend` on the locator's own masks of studio photos (the label: which end of
the mask's axis lies towards the studio's true head; each strip also turned round, label flipped).
"""

from __future__ import annotations

import argparse
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from numpy.typing import NDArray
from torch import nn

__all__ = [
    "HEADEND_FILE",
    "HeadEndArch",
    "HeadEndNet",
    "add_headend_args",
    "create_headend",
    "head_up_prob",
    "headend_from_args",
    "headend_strip",
    "load_headend",
]

HEADEND_FILE = ("rotationnet", "headend.safetensors")


@dataclass(frozen=True)
class HeadEndArch:
    """Architecture arguments (stored in the checkpoint)."""

    height: int = 128  # px along the screw's axis
    width: int = 48  # px across it
    reach: float = 0.3  # the strip runs this share of the screw's length past each end
    max_zoom: float = 3.0  # small screws are enlarged at most this much
    widths: tuple[int, ...] = (16, 32, 48, 64, 64)


class HeadEndNet(nn.Module):
    """(N, 4, height, width) strips (:func:`headend_strip`) -> (N,) logits of "the head is at the top"."""

    def __init__(self, arch: HeadEndArch):
        super().__init__()
        self.arch = arch
        layers: list[nn.Module] = []
        c = 4
        for i, w in enumerate(arch.widths):
            if i:
                layers.append(nn.MaxPool2d(2))
            layers += [nn.Conv2d(c, w, 3, padding=1, bias=False), nn.BatchNorm2d(w), nn.ReLU(inplace=True)]
            c = w
        self.features = nn.Sequential(*layers)
        # four places along the axis (head end ... tip end), averaged across it
        self.pool = nn.AdaptiveAvgPool2d((4, 1))
        self.head = nn.Linear(4 * c, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(torch.flatten(self.pool(self.features(x)), 1))[:, 0]


def create_headend(
    height: int = 128,
    width: int = 48,
    reach: float = 0.3,
    max_zoom: float = 3.0,
    widths: tuple[int, ...] | list[int] = (16, 32, 48, 64, 64),
) -> HeadEndNet:
    """A randomly initialised HeadEndNet."""
    return HeadEndNet(HeadEndArch(int(height), int(width), float(reach), float(max_zoom), tuple(widths)))


def arch_dict(arch: HeadEndArch) -> dict[str, object]:
    d = asdict(arch)
    d["widths"] = list(arch.widths)
    return d


def headend_strip(
    image: NDArray[np.uint8],
    mask: NDArray[np.bool_],
    center: tuple[float, float],
    up_deg: float,
    length_px: float,
    arch: HeadEndArch,
) -> NDArray[np.uint8]:
    """The strip HeadEndNet reads: (height, width, 4) uint8, RGB and the mask (0/255).

    The photo is turned so that ``up_deg`` (the tip -> head direction the locator decided, clockwise from image-up)
    points up, centred on the screw's ``center``, scaled so ``length_px`` x (1 + 2 ``reach``) fills the height
    (enlarged at most ``max_zoom``); beyond the photo its edge is mirrored.
    """
    h, w = arch.height, arch.width
    s = min(h / ((1.0 + 2.0 * arch.reach) * max(float(length_px), 8.0)), arch.max_zoom)
    mat = cv2.getRotationMatrix2D((float(center[0]), float(center[1])), float(up_deg), s)
    # the centre onto the strip's middle ((size - 1) / 2 in pixel-centre coordinates), so that the other end up
    # is exactly the strip turned round (its array flipped both ways), as the trainer turns strips: with the
    # centre half a pixel off, the margins above and below the screw would tell which way a strip was turned
    mat[0, 2] += (w - 1) / 2.0 - center[0]
    mat[1, 2] += (h - 1) / 2.0 - center[1]
    flags = cv2.INTER_AREA if s < 1.0 else cv2.INTER_LINEAR
    rgb = cv2.warpAffine(image, mat, (w, h), flags=flags, borderMode=cv2.BORDER_REFLECT101)
    m = cv2.warpAffine(mask.astype(np.uint8) * 255, mat, (w, h), flags=cv2.INTER_LINEAR)
    return np.dstack([rgb, m])


def strips_tensor(strips: NDArray[np.uint8]) -> torch.Tensor:
    """(N, height, width, 4) uint8 strips -> the network's (N, 4, height, width) float input."""
    t = torch.from_numpy(np.ascontiguousarray(strips)).float().permute(0, 3, 1, 2) / 255.0
    t[:, :3] -= 0.5
    return t


def head_up_prob(
    model: HeadEndNet,
    image: NDArray[np.uint8],
    mask: NDArray[np.bool_],
    center: tuple[float, float],
    up_deg: float,
    length_px: float,
) -> float:
    """Probability that the head is the end ``up_deg`` points to (see :func:`headend_strip`)."""
    x = strips_tensor(headend_strip(image, mask, center, up_deg, length_px, model.arch)[None])
    with torch.inference_mode():
        return float(torch.sigmoid(model.eval()(x))[0])


def load_headend(path: str | Path | None = None, *, required: bool = False) -> HeadEndNet | None:
    """The HeadEndNet in ``path`` (default: the shipped ``models/rotationnet/headend.safetensors``).

    Returns None when the default file is absent; a ``path`` given or ``required=True`` must exist
    (CheckpointError names it).
    """
    from core.checkpoints import load_model_file

    return load_model_file(path, HEADEND_FILE, create_headend, required=required)  # type: ignore[return-value]


def add_headend_args(parser: argparse.ArgumentParser) -> None:
    """``--headend FILE`` / ``--no-headend`` for the commands that locate screws."""
    parser.add_argument(
        "--headend", default=None, help="HeadEndNet head-end model (default: the shipped one, when present)"
    )
    parser.add_argument(
        "--no-headend", action="store_true", help="head end from RotationNet / the half areas alone"
    )


def headend_from_args(args: argparse.Namespace) -> HeadEndNet | None:
    """The HeadEndNet :func:`add_headend_args`' flags ask for (None with ``--no-headend``)."""
    return None if args.no_headend else load_headend(args.headend)
