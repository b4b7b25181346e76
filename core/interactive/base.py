"""The interface every interactive mask backend implements.

Two-step and stateless, like segment-anything's predictor but without ``set_image`` mutating the model
(races between users: segment-anything issue #357): ``emb = backend.embed(image)`` returns an immutable
:class:`Embedding`; ``backend.predict(emb, prompt)`` turns clicks and a box into a mask. The backend object
is shared between sessions and must be thread-safe; embeddings belong to one session's cache.

Coordinates: XY pixels of the original photo; boxes are XYXY.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

from core.errors import InputError

__all__ = ["Prompt", "Embedding", "MaskBackend", "check_image"]


@dataclass(frozen=True)
class Prompt:
    """Clicks and an optional box on a photo.

    Attributes:
        points: (N, 2) float XY pixel coordinates of clicks.
        labels: (N,) int, 1 = positive (object), 0 = negative (background).
        box: optional XYXY pixel box around the object.
    """

    points: tuple[tuple[float, float], ...] = ()
    labels: tuple[int, ...] = ()
    box: tuple[float, float, float, float] | None = None

    def __post_init__(self) -> None:
        if len(self.points) != len(self.labels):
            raise InputError(
                f"{len(self.points)} points but {len(self.labels)} labels; give one label per click"
            )
        if any(lab not in (0, 1) for lab in self.labels):
            raise InputError("click labels must be 1 (object) or 0 (background)")
        if self.box is not None:
            x0, y0, x1, y1 = self.box
            if not (x1 > x0 and y1 > y0):
                raise InputError(f"box {self.box} must be XYXY with x1 > x0 and y1 > y0")

    @property
    def is_empty(self) -> bool:
        return not self.points and self.box is None

    def add(self, xy: tuple[float, float], label: int) -> Prompt:
        """A new prompt with one more click (prompts are immutable so undo is a stack of them)."""
        return Prompt((*self.points, (float(xy[0]), float(xy[1]))), (*self.labels, int(label)), self.box)

    def with_box(self, box: tuple[float, float, float, float] | None) -> Prompt:
        return Prompt(self.points, self.labels, box)

    def points_array(self) -> NDArray[np.float32]:
        return np.asarray(self.points, np.float32).reshape(-1, 2)

    def labels_array(self) -> NDArray[np.int64]:
        return np.asarray(self.labels, np.int64).reshape(-1)


@dataclass(frozen=True)
class Embedding:
    """What a backend computed once per photo. ``payload`` is backend-specific and read-only."""

    image_id: str
    height: int
    width: int
    backend: str
    payload: Any = field(repr=False, compare=False)


@runtime_checkable
class MaskBackend(Protocol):
    """A mask backend: embed a photo once, then predict a mask per prompt."""

    name: str

    def embed(self, image: NDArray[np.uint8], image_id: str = "") -> Embedding:
        """Precompute what prompts need. ``image``: (H, W, 3) uint8 RGB."""
        ...

    def predict(self, embedding: Embedding, prompt: Prompt) -> NDArray[np.bool_]:
        """Mask (H, W) bool in the photo's pixel grid; all False for an empty prompt."""
        ...


def check_image(image: Any) -> NDArray[np.uint8]:
    """Validate an RGB photo at the boundary; the message says how to fix it."""
    if not isinstance(image, np.ndarray):
        raise InputError(f"expected a numpy RGB image, got {type(image).__name__}")
    if image.ndim != 3 or image.shape[2] != 3:
        raise InputError(
            f"expected an (H, W, 3) RGB image, got shape {image.shape}; convert gray/RGBA with core.imageio"
        )
    if image.dtype != np.uint8:
        raise InputError(f"expected uint8 pixels, got {image.dtype}; scale to 0-255 and convert")
    if min(image.shape[:2]) < 8:
        raise InputError(
            f"image {image.shape[1]}x{image.shape[0]} is too small to label; need at least 8x8 pixels"
        )
    return image
