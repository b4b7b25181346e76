"""Cue-conflict data: the Geirhos stimuli, built structure/texture swaps, label mixing, shape bias.

Glossary: *Structure* is the smooth layer of a photo (its shape), *Texture* the fine detail
(``image - structure``). A *cue-conflict* image carries the structure of class ``s`` and the texture of
class ``t``. Its mixed target is ``y = k * onehot(s) + (1 - k) * onehot(t)``.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from core.errors import ConfigError, DatasetError, InputError

__all__ = [
    "CueItem",
    "parse_cue_name",
    "load_cue_conflict",
    "load_plain_set",
    "split_by_shape",
    "mix_targets",
    "shape_bias",
    "swap_structure_texture",
    "build_swapped_set",
]

_NAME = re.compile(r"^([a-z]+)(\d+)-([a-z]+)(\d+)$")
_PLAIN = re.compile(r"^([a-z]+)(\d+)$")
_SUFFIXES = (".jpg", ".jpeg", ".png")


@dataclass(frozen=True)
class CueItem:
    """One cue-conflict image.

    Attributes:
        path: The image file.
        shape: Shape (structure) class name.
        texture: Texture class name.
        shape_id: The shape-source image, e.g. ``"airplane1"`` (splits group on it).
    """

    path: Path
    shape: str
    texture: str
    shape_id: str

    @property
    def conflict(self) -> bool:
        """True when shape and texture classes differ."""
        return self.shape != self.texture


def parse_cue_name(path: str | Path) -> CueItem:
    """Read shape and texture class from a Geirhos file name ``<shape><i>-<texture><j>.<ext>``."""
    p = Path(path)
    m = _NAME.match(p.stem)
    if not m:
        raise DatasetError(
            "cue-conflict file names must look like 'cat3-elephant1.jpg' (shape class + index, '-', texture class + index)",
            path=p,
        )
    return CueItem(path=p, shape=m.group(1), texture=m.group(3), shape_id=m.group(1) + m.group(2))


def load_cue_conflict(root: str | Path) -> tuple[list[CueItem], list[str]]:
    """All cue-conflict images under ``root`` (the folder holding one folder per shape class).

    Accepts either that folder or its parent (``.../cue-conflict`` containing ``cue-conflict/``).

    Returns:
        ``(items, classes)`` with classes sorted.
    """
    r = Path(root)
    if (r / "cue-conflict").is_dir():
        r = r / "cue-conflict"
    if not r.is_dir():
        raise DatasetError(
            "cue-conflict folder not found; pass the folder with one sub-folder per class", path=r
        )
    items = [parse_cue_name(p) for p in sorted(r.glob("*/*")) if p.suffix.lower() in _SUFFIXES]
    if not items:
        raise DatasetError("no cue-conflict images (*.jpg/*.png in class sub-folders) found", path=r)
    classes = sorted({i.shape for i in items} | {i.texture for i in items})
    if len(classes) < 2:
        raise DatasetError(f"the dataset has one class ({classes[0]}); at least 2 are needed", path=r)
    return items, classes


def load_plain_set(root: str | Path, classes: Sequence[str]) -> list[tuple[Path, str, str]]:
    """Silhouettes or edges: ``<root>/<class>/<class><i>.png`` -> ``(path, class, shape_id)``."""
    r = Path(root)
    if not r.is_dir():
        raise DatasetError("folder of silhouettes/edges not found", path=r)
    out = []
    for p in sorted(r.glob("*/*")):
        m = _PLAIN.match(p.stem)
        if p.suffix.lower() in _SUFFIXES and m and m.group(1) in classes:
            out.append((p, m.group(1), p.stem))
    return out


def split_by_shape(
    items: Sequence[CueItem], test_fraction: float = 0.3, seed: int = 0
) -> tuple[list[CueItem], list[CueItem]]:
    """Split so that every shape-source image is in train or in test, never both.

    Shape sources are split per class so each class keeps test shapes (``ceil`` of the fraction, at least
    one, and at least one left for training).
    """
    if not (0 < test_fraction < 1):
        raise ConfigError(f"test_fraction must be in (0, 1), got {test_fraction}", field="test_fraction")
    by_class: dict[str, list[str]] = {}
    for it in items:
        ids = by_class.setdefault(it.shape, [])
        if it.shape_id not in ids:
            ids.append(it.shape_id)
    rng = random.Random(seed)
    test_ids: set[str] = set()
    for cls in sorted(by_class):
        ids = sorted(by_class[cls])
        if len(ids) < 2:
            raise DatasetError(
                f"class {cls!r} has {len(ids)} shape source(s); a shape split needs at least 2"
            )
        rng.shuffle(ids)
        n = min(len(ids) - 1, max(1, int(np.ceil(test_fraction * len(ids)))))
        test_ids.update(ids[:n])
    train = [i for i in items if i.shape_id not in test_ids]
    test = [i for i in items if i.shape_id in test_ids]
    return train, test


def mix_targets(shape: Any, texture: Any, k: float, num_classes: int) -> Any:
    """Soft targets ``k * onehot(shape) + (1 - k) * onehot(texture)``.

    Args:
        shape: Class indices, int tensor or array of shape (N,).
        texture: Class indices, same shape.
        k: Mixing coefficient in [0, 1] (1 = shape label only, 0 = texture label only).
        num_classes: Number of classes.

    Returns:
        (N, num_classes) float targets of the input's kind (torch tensor or numpy array); rows sum to 1.
    """
    if not (0.0 <= float(k) <= 1.0):
        raise ConfigError(f"k must be in [0, 1], got {k}", field="k")
    if num_classes < 2:
        raise DatasetError(f"the dataset has {num_classes} class; at least 2 are needed to mix labels")
    try:
        import torch

        if isinstance(shape, torch.Tensor):
            f = torch.nn.functional
            return (
                k * f.one_hot(shape, num_classes).float() + (1 - k) * f.one_hot(texture, num_classes).float()
            )
    except ImportError:  # pragma: no cover - torch is a project dependency
        pass
    eye = np.eye(num_classes, dtype=np.float32)
    return k * eye[np.asarray(shape)] + (1 - k) * eye[np.asarray(texture)]


def shape_bias(pred: ArrayLike, shape: ArrayLike, texture: ArrayLike) -> dict[str, float]:
    """Geirhos shape bias: over conflict images (shape != texture), shape hits / (shape + texture hits).

    Args:
        pred: Predicted class per image.
        shape: Shape class per image.
        texture: Texture class per image.

    Returns:
        ``{"shape_bias", "shape_hits", "texture_hits", "conflict_n"}``; ``shape_bias`` is NaN when no
        conflict decision hit either class.
    """
    p, s, t = (np.asarray(a, dtype=np.int64) for a in (pred, shape, texture))
    if not (p.shape == s.shape == t.shape) or p.ndim != 1:
        raise InputError("pred, shape and texture must be 1-D sequences of equal length")
    c = s != t
    sh = int(((p == s) & c).sum())
    th = int(((p == t) & c).sum())
    bias = sh / (sh + th) if sh + th else float("nan")
    return {"shape_bias": bias, "shape_hits": sh, "texture_hits": th, "conflict_n": int(c.sum())}


def swap_structure_texture(
    structure_a: NDArray[np.floating], texture_b: NDArray[np.floating]
) -> NDArray[np.float32]:
    """A built cue-conflict image: the structure layer of photo A plus the texture layer of photo B.

    Both layers must have the same (H, W, C) shape (resize the photos first). Clipped to [0, 1].
    """
    a, b = np.asarray(structure_a), np.asarray(texture_b)
    if a.shape != b.shape:
        raise InputError(
            f"structure {a.shape} and texture {b.shape} layers must have the same shape; resize first"
        )
    return np.clip(a + b, 0.0, 1.0).astype(np.float32)


def build_swapped_set(
    structures: NDArray[np.floating],
    textures: NDArray[np.floating],
    labels: ArrayLike,
    n: int,
    seed: int = 0,
) -> tuple[NDArray[np.float32], NDArray[np.int64], NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]:
    """Cue-conflict images from any labelled dataset: structure of photo A + texture of photo B.

    Args:
        structures: (N, H, W, C) structure layers of the photos (e.g. from :func:`decompose`).
        textures: (N, H, W, C) texture layers (``image - structure``) of the same photos.
        labels: (N,) class index of every photo.
        n: Number of images to build; A and B are drawn so that class(A) != class(B).
        seed: Random seed.

    Returns:
        ``(images (n, H, W, C) float32, s = class(A), t = class(B), index of A, index of B)``.
    """
    lab = np.asarray(labels, dtype=np.int64)
    st, tx = np.asarray(structures), np.asarray(textures)
    if st.shape != tx.shape or st.ndim != 4 or len(lab) != len(st):
        raise InputError(
            f"structures {st.shape}, textures {tx.shape} and labels ({len(lab)}) must match (N, H, W, C)"
        )
    if len(np.unique(lab)) < 2:
        raise DatasetError("the dataset has one class; cue-conflict images need photos of at least 2 classes")
    if n < 1:
        raise ConfigError(f"n must be >= 1, got {n}", field="n")
    rng = np.random.default_rng(seed)
    a = rng.integers(0, len(lab), n)
    b = np.empty(n, np.int64)
    for i, ai in enumerate(a):
        b[i] = rng.choice(np.flatnonzero(lab != lab[ai]))
    images = np.clip(st[a] + tx[b], 0.0, 1.0).astype(np.float32)
    return images, lab[a], lab[b], a, b
